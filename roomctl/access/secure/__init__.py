"""Badges that cannot be cloned: NTAG 424 DNA cards authenticated with AES-128 at the door.

``crypto`` holds the primitives (AN12196 session keys and secure messaging, AN10922 key diversification),
``card`` the card's commands over ISO 14443-4 APDUs, ``keys`` the room's master key, ``verify`` the door's
exchange, ``credentials`` which badges are secure and their counters, ``provision`` turning a blank card into a
room badge.
"""
