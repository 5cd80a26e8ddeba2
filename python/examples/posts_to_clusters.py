"""From a posts DataFrame to coordinated clusters, a picture of one network and a Gephi file.

    python python/examples/posts_to_clusters.py [WORKDIR]

Makes a synthetic corpus (chorus.generate_posts: 4,000 accounts over a week with planted
campaigns), reads it with pandas as an analyst would read their own export, ingests it, finds
the accounts that repost the same posts within a minute of each other (co_repost) and those
whose content and timing are alike (both), and writes a PNG of the largest network and a GEXF
of all of them into WORKDIR (default: a new temporary folder). CI runs it (tests/py/
package_tests.sh) and type-checks it with mypy --strict.
"""
from __future__ import annotations

import os
import sys
import tempfile

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt
import networkx as nx
import pandas as pd

import chorus


def main(workdir: str) -> int:
    os.makedirs(workdir, exist_ok=True)
    corpus = chorus.generate_posts(os.path.join(workdir, "posts.csv"), accounts=4000, days=7,
                                   campaigns=6, seed=7, force=True, progress=False)

    # An analyst's posts table. Ids are read as strings: pandas would turn the repost and reply
    # ids (with gaps) into float64 and lose digits of the 19-digit ids.
    posts: pd.DataFrame = pd.read_csv(
        corpus["posts"], dtype={"message_id": str, "user_id": str, "repost_id": str,
                                "reply_id": str})
    print(f"{len(posts):,} posts by {posts['user_id'].nunique():,} accounts")

    inp = chorus.ingest(posts, min_posts=3, progress=False)
    print(inp)

    # accounts that repost the same post within 60 seconds, at least 3 times
    reposts = chorus.detect(inp, view="co_repost", window=60, min_weight=3, progress=False)
    print(f"co_repost: {reposts.summary['clusters']} networks, {reposts.summary['edges']} edges")

    # accounts whose content and posting rhythm are both alike
    alike = chorus.detect(inp, view="both", threshold=0.8, threshold_activity=0.8,
                          progress=False)
    clusters: pd.DataFrame = alike.clusters
    print(clusters[["cluster", "size", "density", "mean_sim_embedding",
                    "mean_sim_activity"]].head())

    # the largest co-repost network as a picture
    edges: pd.DataFrame = reposts.edges
    members: pd.DataFrame = reposts.members
    if len(members) == 0:
        print("no network found", file=sys.stderr)
        return 1
    rows = set(members.loc[members["cluster"] == 0, "row"].tolist())
    inside = edges[edges["src"].isin(rows) & edges["dst"].isin(rows)]
    graph = nx.from_pandas_edgelist(inside, "src_id", "dst_id", edge_attr="weight")
    fig, ax = plt.subplots(figsize=(7, 7))
    nx.draw_networkx(graph, pos=nx.spring_layout(graph, seed=1), ax=ax, node_size=40,
                     with_labels=False, width=0.5)
    ax.set_title(f"co_repost network 0: {graph.number_of_nodes()} accounts, "
                 f"{graph.number_of_edges()} edges")
    png = os.path.join(workdir, "network0.png")
    fig.savefig(png, dpi=100)
    plt.close(fig)

    # every network, for Gephi; and the results file for later
    gexf = os.path.join(workdir, "co_repost.gexf")
    reposts.export("gexf", gexf, min_size=3, force=True)
    reposts.save(os.path.join(workdir, "co_repost.h5"), force=True)
    print(f"wrote {png}, {gexf}")

    # how well the planted campaigns were found (synthetic data only)
    truth: pd.DataFrame = pd.read_csv(corpus["truth"], dtype={"user_id": str})
    planted = set(truth.loc[truth["kind"] == 1, "user_id"])
    found = set(str(a) for a in members["account_id"])
    hit = len(found & planted)
    print(f"co_repost networks hold {len(found):,} accounts, {hit:,} of them planted "
          f"({hit / max(len(found), 1):.0%}); {hit / max(len(planted), 1):.0%} of the "
          f"{len(planted):,} planted campaign accounts were found")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="chorus-ex-")))
