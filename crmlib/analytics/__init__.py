"""Shared analytics: one definition per concept, used by every model and lesson."""
