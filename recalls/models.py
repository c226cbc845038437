"""Recall campaigns (filled in by the recall issue; the app exists so migrations have a home)."""
