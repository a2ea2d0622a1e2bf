"""Stage (a) of PAPER.md: the entity graph and the random walks over it.

``build.GraphBuilder`` (KILT anchors, triples, mentions) -> ``store.Graph`` (CSR on disk) ->
``walk.walk`` / ``walk.awalk`` (chains) -> ``write.run_walks`` (resumable JSONL). See docs/graph.md.
"""
