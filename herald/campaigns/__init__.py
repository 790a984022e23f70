"""Campaigns and their content: templates and fragments (versioned), campaign definitions,
launches with A/B/n and MVT variants, schedules, sending limits with warm-up, results."""
