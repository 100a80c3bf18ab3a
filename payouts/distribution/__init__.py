"""Distribution runs: the engine that splits inflows down the share tables, the loader that
builds its graph, the staged runs that post the result, their reports and explanations."""
