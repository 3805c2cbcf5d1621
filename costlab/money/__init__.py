"""Money: attribution of the bill, allocation, reconciliation, alerts, FOCUS export."""
