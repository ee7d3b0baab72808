"""Booking the room: members and their badges, groups, bookings and weekly series, check-in and release."""
