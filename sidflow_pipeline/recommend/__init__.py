"""Recommendations: mood / vector / "more like this" queries over the song database."""
