"""Learning the listener's taste: training samples, the LightGBM rating model, retraining."""
