"""The compleak-tf command line."""
