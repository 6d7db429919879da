"""Decoders: small torch networks trained on a collection's stored vectors to turn a vector back into what it
was made from (an image of the collection's items, or a table row), so that a cluster's centre, or any point
of the space, can be seen."""
