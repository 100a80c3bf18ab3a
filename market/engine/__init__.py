"""The secondary market's engine: books in memory (``book``), the sequencer that journals and
settles in PostgreSQL (``sequencer``), and the services pages and the API call (``services``)."""
