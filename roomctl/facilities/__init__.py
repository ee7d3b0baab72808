"""Facilities: every room of the site at a glance, alerts, room-use analytics and the learning-time report."""
