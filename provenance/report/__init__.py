"""What auditors and producers look at: the disclosure a vendor sends its studio contact, and
the delivery report (text, JSON, and one self-contained HTML page with thumbnails and lineage
pictures)."""

__all__: list[str] = []
