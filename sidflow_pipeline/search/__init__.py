"""`sidflow search`: a small query language over the catalog, run on DuckDB."""
