"""What other systems read and write: W3C PROV documents of the ledger's facts, and ASC MHL
histories, the film industry's chain of custody from set to delivery."""

__all__: list[str] = []
