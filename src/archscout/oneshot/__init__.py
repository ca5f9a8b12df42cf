"""Methods that train weights themselves and record what they derive as trials (DESIGN.md: ``oneshot/``).

:mod:`archscout.oneshot.supernet`: weight-sharing conv supernets (elastic depth, width and kernel).
"""
