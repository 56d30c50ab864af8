"""What the model says about a plan: the budget optimizer, marginal ROIs and forecasts."""
