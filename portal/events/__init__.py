"""Events with actor and source: each add-on's reaction isolated, retried when it failed."""
