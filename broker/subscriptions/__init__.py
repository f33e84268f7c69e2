"""Subscriptions and notifications: the API model, matching committed changes, delivery."""
