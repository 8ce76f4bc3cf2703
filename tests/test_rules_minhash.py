"""Near-duplicate search: exactness of verified pairs, recall on real text, groups, determinism."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import polars as pl

from curate.rules.minhash import (
    candidate_pairs,
    components,
    exact_jaccard,
    lsh_params,
    near_duplicate_pairs,
    optimal_bands,
    shingle,
    signatures,
)

DATA = Path(__file__).parent / "data" / "rules_eurlex_sample.jsonl"


def texts(n=120):
    return [json.loads(line)["text"] for line in DATA.read_text(encoding="utf-8").splitlines()[:n]]


def brute_force(docs, threshold, ngram=3):
    sh = shingle(docs, ngram=ngram)
    sets = [set(sh.hashes[sh.doc == i].tolist()) for i in range(len(docs))]
    out = {}
    for a, b in itertools.combinations(range(len(docs)), 2):
        if sets[a] and sets[b]:
            j = len(sets[a] & sets[b]) / len(sets[a] | sets[b])
            if j >= threshold:
                out[(a, b)] = j
    return out


def test_pairs_match_brute_force_on_real_documents_with_planted_edits():
    docs = texts()
    rng = np.random.default_rng(0)
    for i in range(0, 60, 3):  # planted near copies with a few words changed
        words = docs[i].split(" ")
        for p in rng.integers(0, len(words), size=3):
            words[p] = "changed"
        docs.append(" ".join(words))
    truth = brute_force(docs, 0.8)
    found = near_duplicate_pairs(docs, threshold=0.8)
    got = {(a, b): j for a, b, j in found.iter_rows()}
    assert set(got) <= set(truth)  # verified exactly: no false positives
    for pair, j in got.items():
        assert abs(j - truth[pair]) < 1e-9
    assert len(set(got) & set(truth)) >= 0.9 * len(truth) and len(truth) >= 20


def test_exact_jaccard_and_signature_estimate_agree():
    docs = ["alpha beta gamma delta epsilon zeta eta theta", "alpha beta gamma delta epsilon zeta eta iota",
            "completely different words in this one here"]
    sh = shingle(docs, ngram=2)
    pairs = pl.DataFrame({"a": [0, 0], "b": [1, 2]})
    j = exact_jaccard(sh, pairs).to_list()
    assert j[0] == 6 / 8 and j[1] == 0.0
    sig = signatures(sh, num_perm=256)
    est = float((sig[0] == sig[1]).mean())
    assert abs(est - 0.75) < 0.12


def test_short_and_empty_documents():
    found = near_duplicate_pairs(["one two", "One  two", "", "three"], threshold=0.9)
    assert found.select("a", "b").rows() == [(0, 1)]
    assert near_duplicate_pairs([], threshold=0.9).height == 0


def test_big_buckets_stay_linear_and_connected():
    docs = ["the same boilerplate notice about import prices for fruit and vegetables"] * 300
    sh = shingle(docs)
    sig = signatures(sh)
    b, r = lsh_params(0.8, 128)
    pairs = candidate_pairs(sig, b, r)
    assert pairs.height < 300 * 10  # star + chain per big bucket, not 300*299/2 pairs
    comp = components(300, pairs["a"].to_numpy(), pairs["b"].to_numpy())
    assert set(comp.tolist()) == {0}


def test_components_and_band_choice():
    assert components(6, np.array([5, 1, 2]), np.array([4, 2, 3])).tolist() == [0, 1, 1, 1, 4, 4]
    assert optimal_bands(0.8, 128) == (9, 13)  # the same choice datasketch.MinHashLSH makes
    b, r = lsh_params(0.8, 128)  # weighted towards recall, since candidates are verified exactly
    assert b * r <= 128 and 1 - (1 - 0.9**r) ** b > 0.95 > 1 - (1 - 0.9**13) ** 9
    for threshold in (0.8, 0.9):  # a pair right at the threshold is found most of the time
        b, r = lsh_params(threshold, 128)
        assert b * r <= 128 and 1 - (1 - threshold**r) ** b > 0.8


def test_deterministic_and_order_free():
    docs = texts(80)
    a = near_duplicate_pairs(docs, threshold=0.7)
    assert a.equals(near_duplicate_pairs(docs, threshold=0.7))
    perm = np.random.default_rng(3).permutation(len(docs))
    b = near_duplicate_pairs([docs[i] for i in perm], threshold=0.7)
    mapped = {tuple(sorted((int(perm[x]), int(perm[y])))) for x, y, _ in b.iter_rows()}
    assert mapped == set(a.select("a", "b").iter_rows())


def test_spanning_pairs_give_the_same_components_with_far_fewer_checks():
    base = texts(40)
    rng = np.random.default_rng(1)
    docs = []
    for i, text in enumerate(base):  # clusters of near-copies of real acts, of different sizes
        words = text.split(" ")
        for _ in range(1 + i % 7):
            copy = list(words)
            for p in rng.integers(0, len(copy), size=2):
                copy[p] = f"w{rng.integers(1000)}"
            docs.append(" ".join(copy))
    for threshold in (0.8, 0.9):
        full = near_duplicate_pairs(docs, threshold=threshold)
        span = near_duplicate_pairs(docs, threshold=threshold, spanning=True)
        truth = brute_force(docs, threshold)
        assert set(span.select("a", "b").rows()) <= set(truth)  # still only verified pairs
        n = len(docs)
        same = components(n, full["a"].to_numpy(), full["b"].to_numpy())
        assert np.array_equal(components(n, span["a"].to_numpy(), span["b"].to_numpy()), same)
        assert span.height < full.height / 2 and full.height >= 100


def planted(n=120):
    docs = texts(n)
    return docs + [d[:-25] for d in docs[:40]] + [d + " and a few more words" for d in docs[40:70]] + ["", "a b", "x", "a b"]


def test_compiled_kernel_gives_the_numpy_signatures():
    from curate.rules._minhash_kernel import kernel

    assert kernel() is not None  # numba is in the test extra (curate[fast])
    sh = shingle(planted())
    fast, slow = signatures(sh, compiled=True), signatures(sh, compiled=False)
    assert fast.dtype == slow.dtype == np.uint32 and np.array_equal(fast, slow)
    assert (slow[sh.n_docs - 4] == np.iinfo(np.uint32).max).all()  # the empty text


def test_chunked_sketch_equals_the_whole_and_pairs_are_unchanged(monkeypatch):
    from curate.rules import minhash

    docs = planted()
    whole = signatures(shingle(docs))
    with monkeypatch.context() as m:
        m.setattr(minhash, "CHUNK_DOCS", 7)
        chunks = list(minhash.signature_chunks(pl.Series(docs)))
    assert [start for start, _, _ in chunks] == list(range(0, len(docs), 7))
    assert np.array_equal(np.concatenate([sig for _, sig, _ in chunks]), whole)
    assert np.concatenate([on for _, _, on in chunks]).tolist() == [bool(d.split()) for d in docs]
    # shingles rebuilt for a few documents equal theirs in the whole list
    full = shingle(docs)
    part = minhash.Sketcher(docs).shingles(np.array([130, 3, 3, 60]))
    for d in (3, 60, 130):
        assert sorted(part.hashes[part.doc == d].tolist()) == sorted(full.hashes[full.doc == d].tolist())
    assert set(part.doc.tolist()) == {3, 60, 130}
    # LSH finds every pair above 0.8 here (brute force); at 0.5 its recall is probabilistic
    # (a pair at Jaccard 0.5 is a candidate with probability ~0.55), so there the chunked runs are
    # compared with the whole list's
    expected = {t: set(brute_force(docs, t)) for t in (0.8, 0.9)}
    expected[0.5] = {(a, b) for a, b, _ in near_duplicate_pairs(docs, threshold=0.5).rows()}
    assert expected[0.5] <= set(brute_force(docs, 0.5)) and len(expected[0.5]) >= 70
    for chunk in (5, 64, 10_000):
        monkeypatch.setattr(minhash, "CHUNK_DOCS", chunk)
        for t in (0.5, 0.8, 0.9):
            got = near_duplicate_pairs(docs, threshold=t)
            assert {(a, b) for a, b, _ in got.rows()} == expected[t], (chunk, t)


def test_normalise_skips_only_texts_nfkc_leaves_alone():
    from curate.rules.minhash import normalise

    xs = planted() + ["ＦＵＬＬ width", None, "e\u0301cole", "ﬁne", "İstanbul", "x²", "Ｉ ａｍ"]
    expected = pl.Series(xs).fill_null("").str.normalize("NFKC").str.to_lowercase()
    assert normalise(pl.Series(xs)).to_list() == expected.to_list()


def mixed_texts():
    """ASCII in every case and with punctuation, short and empty texts, and non-ASCII ones that the
    fused kernel leaves to the general path."""
    return planted(60) + [
        "Hello, World! snake_case and CamelCase 42 times", "HELLO world", "a-b c.d e_f", "\tTabs\nand  lines ",
        "two words", "one", "", "!!!", "Ｆｕｌｌ width ＴＥＸＴ here", "ﬁne ligatures in a ﬁle", "École élève été",
        "İstanbul ve Ankara şehirleri", "mixed ascii then é at the end", "x²", "日本語のテキスト です",
    ]


def test_fused_kernel_equals_the_general_path(monkeypatch):
    from curate.rules import minhash

    docs = pl.Series(mixed_texts())
    for ngram in (1, 3, 5):
        fast_sig, fast_on = minhash.chunk_signatures(docs, ngram=ngram)
        with monkeypatch.context() as m:
            m.setattr(minhash, "kernels", lambda: None)
            slow_sig, slow_on = minhash.chunk_signatures(docs, ngram=ngram)
        reference = signatures(shingle(docs, ngram=ngram), compiled=False)
        assert np.array_equal(fast_sig, slow_sig) and np.array_equal(fast_sig, reference), ngram
        assert fast_on.tolist() == slow_on.tolist() == [bool(re.findall(r"\w+", d)) for d in docs]


def test_word_hashes_are_the_same_compiled_or_not(monkeypatch):
    from curate.rules import minhash

    words = pl.Series(["", "a", "word", "é", "x" * 500, None, "日本"])
    fast = minhash.word_hashes(words, 3)
    monkeypatch.setattr(minhash, "kernels", lambda: None)
    assert np.array_equal(fast, minhash.word_hashes(words, 3))
    assert len(set(fast.tolist())) == 6  # "" and None are the same empty string
    assert not np.array_equal(fast, minhash.word_hashes(words, 4))


def test_band_keys_are_row_local_and_give_the_local_candidates():
    from curate.rules import minhash

    docs = pl.Series(planted())
    b, r = lsh_params(0.8, 128)
    whole = minhash.band_keys(docs, bands=b, rows=r)
    cut = 77  # two blocks, the second with its offset: what a distributed engine computes
    blocks = [minhash.band_keys(docs.slice(0, cut), bands=b, rows=r),
              minhash.band_keys(docs.slice(cut), bands=b, rows=r).with_columns(pl.col("doc") + cut)]
    assert pl.concat(blocks).sort("band", "doc").equals(whole)
    assert set(whole["doc"].to_list()) == {i for i, d in enumerate(docs) if d.split()}
    local = minhash.Sketcher(docs).pairs(b, r)
    assert minhash.pairs_from_keys(whole).equals(local) and local.height > 50

    calls = []

    def remote(texts, **params):
        calls.append(params)
        return minhash.pairs_from_keys(minhash.band_keys(texts, **params))

    for t in (0.8, 0.9):
        via = near_duplicate_pairs(docs, threshold=t, candidates=remote)
        assert via.equals(near_duplicate_pairs(docs, threshold=t))
    assert [c["bands"] for c in calls] == [b, lsh_params(0.9, 128)[0]]


def test_an_engine_components_are_what_the_rules_use():
    """``RuleContext.components``: the seam a distributed engine joins components through; the
    findings and groups are the same as with the local ``minhash.components``."""
    import dataclasses

    from curate.rules import RuleContext, evaluate_rules, minhash

    docs = planted()
    frame = pl.DataFrame({"line": list(range(1, len(docs) + 1)), "id": [f"d{i}" for i in range(len(docs))],
                          "text": docs, "labels": [["a"]] * len(docs)})
    context = RuleContext(label_names=("a",))
    local = evaluate_rules(frame, ["default"], context=context)
    calls = []

    def remote(n, a, b):
        calls.append(n)
        return minhash.components(n, a, b)

    via = evaluate_rules(frame, ["default"], context=dataclasses.replace(context, components=remote))
    assert calls and via.findings.equals(local.findings) and via.groups.equals(local.groups)
    assert local.groups.height > 10


def test_band_key_matrix_compiled_equals_numpy(monkeypatch):
    from curate.rules import lsh

    sig = signatures(shingle(planted()))
    fast = lsh.band_key_matrix(sig, 14, 9)
    monkeypatch.setattr(lsh, "kernels", lambda: None)
    slow = lsh.band_key_matrix(sig, 14, 9)
    assert fast.dtype == slow.dtype == np.uint64 and np.array_equal(fast, slow)
    assert slow.shape == (14, sig.shape[0]) and np.array_equal(slow[3], lsh._band_key(sig, 3, 9))
    assert len(set(slow[0].tolist())) > 100


def test_repeated_marks_every_copy_of_a_repeated_value():
    from curate.rules._arrow import repeated as _repeated

    rng = np.random.default_rng(3)
    for values in (rng.integers(0, 50, size=200, dtype=np.uint64), rng.integers(0, 2**63, size=500, dtype=np.uint64),
                   np.array([7, 7], dtype=np.uint64), np.array([1], dtype=np.uint64), np.zeros(0, dtype=np.uint64)):
        assert _repeated(values).tolist() == pl.Series(values, dtype=pl.UInt64).is_duplicated().to_list()
