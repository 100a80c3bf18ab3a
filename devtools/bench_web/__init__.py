"""``manage.py bench_web``: seeding, the HTTP load and the query counts of the web benchmark."""
