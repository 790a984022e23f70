"""Reports computed from the warehouse: cohorts, funnels, customer lifetime value."""
