"""The docs stay true: docs/ and the README are checked against the code, and the output they
quote is run (docs/delivery.md's sample show, the blocks marked `<!-- run: NAME -->`)."""
