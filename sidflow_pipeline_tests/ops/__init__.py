"""Operations tests: the project served the way an operator runs it (``dagster dev``)."""
