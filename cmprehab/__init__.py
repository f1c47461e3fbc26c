"""cmprehab: the logic behind the executable report of Trulsson Schouenborg et al. 2021."""
__version__ = "0.1.0"
