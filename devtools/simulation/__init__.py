"""The seeded whole-system money simulation (``manage.py simulate``).

``world`` holds one seed's state and generators, ``operations`` one function per operation on
the real services, ``invariants`` the checks run after every step, ``stripe_env`` the private
local Stripe server, ``bugs`` the deliberately injected bugs (for tests) and ``runner`` the
loop that ties them together.
"""
