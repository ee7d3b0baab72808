"""Badges that cannot be cloned: NTAG 424 DNA cards authenticated with AES-128 at the door.

- ``crypto``: the primitives (AN12196 session keys and secure messaging, AN10922 key diversification);
- ``card``: the card's commands over ISO 14443-4 APDUs, and the door's five-APDU exchange;
- ``keys``: the room's master key (environment or systemd credential only) and the per-card keys;
- ``verify``: the reader thread's card check, turned into a proof that travels with the tap;
- ``policy``: which credential a tap presents (``uid`` or ``secure``) and the refusals for it;
- ``credentials``: which badges are secure, and the last counter each one showed;
- ``provision``: turning a blank card into a room badge; ``desk`` (the CLI) and ``by_tap``/``tap_desk``
  (the admin page) around it.
"""
