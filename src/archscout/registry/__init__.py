"""Naming pluggable parts: the :class:`Registry` of each kind, and objects named by reference (``module:attr``)."""
from .names import Registry
from .references import load_file, load_reference, loaded_files, module_name_for, preload, reference_of

__all__ = ["Registry", "load_file", "load_reference", "loaded_files", "module_name_for", "preload", "reference_of"]
