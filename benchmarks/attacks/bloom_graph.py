"""Attacks on the Bloom-filter encodings of names (``names.clk``, encoded mode), without the encoding key.

Graph matching (after Vidanage et al. 2020): the Hamming distance of two filters grows with the number of
bigrams the two names do not share, diffusion or not. Seeds come from frequency (the commonest stored names of each
length are the commonest public ones); every other filter is then placed by its distances to the seed filters,
against each public name's bigram distances to the seed names, and the closest public name of the same length is
its guess. The most confident guesses become seeds for another round, so the picture sharpens as it grows.

The phonetic tokens stored beside each filter (``names.soundex``, ``names.metaphone``, ``names.initial``) are
deterministic: once most names sharing a token are guessed, the token's code is known by majority, and a last round
keeps each filter to the public names with those codes.

Pattern mining (after Christen et al. 2017/2018): in a filter without diffusion, the bits one bigram sets are set
together, so bit columns with near-identical membership form clusters, ranked by frequency against the public
bigram frequencies; a filter's clusters spell its bigram set. Diffusion mixes bits, and then no clusters form.
"""

from __future__ import annotations

from collections import defaultdict

import jellyfish
import numpy as np

from benchmarks.attacks.frequency_alignment import public_family_frequencies, public_given_frequencies
from benchmarks.attacks.guesses import AttackResult
from benchmarks.attacks.name_seeds import family_seeds, given_seeds
from benchmarks.attacks.views import View, array, records_count

ROUNDS = 3
VOTED_ROUNDS = 1
FAMILY_SEEDS = 10
GIVEN_SEEDS = 150
MAX_SEEDS = 600
_CHUNK = 512


def bigrams(name: str) -> set[str]:
    padded = f"_{name}_"
    return {padded[i : i + 2] for i in range(len(padded) - 1)}


class Vocabulary:
    """Public names as rows of a bigram-indicator matrix."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.sets = [bigrams(n) for n in names]
        columns: dict[str, int] = {}
        rows, cols = [], []
        for i, s in enumerate(self.sets):
            for g in s:
                rows.append(i)
                cols.append(columns.setdefault(g, len(columns)))
        self.matrix = np.zeros((len(names), len(columns)), dtype=np.float32)
        self.matrix[rows, cols] = 1
        self.sizes = self.matrix.sum(axis=1)
        self.lengths = np.array([len(n) for n in names])

    def differences(self, seeds: np.ndarray) -> np.ndarray:
        """(names, seeds): bigrams in one name but not the other."""
        shared = self.matrix @ self.matrix[seeds].T
        return self.sizes[:, None] + self.sizes[seeds][None, :] - 2 * shared


def hamming(clk: np.ndarray, rows: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    out = np.empty((len(rows), len(seeds)), dtype=np.float32)
    for start in range(0, len(rows), _CHUNK):
        part = rows[start : start + _CHUNK]
        out[start : start + len(part)] = np.bitwise_count(clk[part][:, None, :] ^ clk[seeds][None, :, :]).sum(axis=2)
    return out


def input_differences(h: np.ndarray, bits: int, taps: int = 3) -> np.ndarray:
    """Input bits differing behind ``h`` differing output bits, when each output bit XORs ``taps`` input bits: an
    output bit flips with probability (1 - (1 - 2q)^taps) / 2 for a share q of input bits differing."""
    inside = np.clip(1 - 2 * h / bits, 1e-6, 1)
    return bits * (1 - inside ** (1 / taps)) / 2


Codes = list[tuple[np.ndarray, np.ndarray]]
"""Per kind of phonetic token: (stored token per name position, public code number per vocabulary name)."""


def graph_match(
    clk: np.ndarray,
    groups: np.ndarray,
    seeds: dict[int, str],
    vocab: Vocabulary,
    allowed: dict[int, np.ndarray],
    codes: Codes = (),
) -> dict[int, str]:
    """Stored position -> public name, from distances to seeds, grown over ``ROUNDS`` rounds. ``groups`` gives each
    stored position a group (-1: not attacked) and ``allowed`` each group its candidate public names. With
    ``codes``, ``VOTED_ROUNDS`` more rounds keep to the candidates whose Soundex, Metaphone and initial agree with
    what the stored tokens of those codes were voted to mean by the previous round's guesses."""
    index = {name: i for i, name in enumerate(vocab.names)}
    rows = np.flatnonzero(groups >= 0)
    guesses: dict[int, str] = {}
    bits = clk.shape[1] * 64
    frozen = dict(seeds)
    for round_number in range(ROUNDS + VOTED_ROUNDS * bool(codes)):
        seed_rows = np.array([p for p in seeds if seeds[p] in index], dtype=np.int64)
        seed_names = np.array([index[seeds[p]] for p in seed_rows], dtype=np.int64)
        if len(seed_rows) < 5:
            break
        encoded = input_differences(hamming(clk, rows, seed_rows), bits)
        public = vocab.differences(seed_names)
        seed_encoded = input_differences(hamming(clk, seed_rows, seed_rows), bits)
        pairs = seed_encoded > 0
        scale = float((seed_encoded[pairs] * public[seed_names][pairs]).sum() / (seed_encoded[pairs] ** 2).sum())
        encoded *= scale
        voted = _vote(guesses, codes, index, len(groups)) if round_number >= ROUNDS else []
        guesses, confidence = _place(encoded, public, rows, groups, allowed, vocab, voted)
        # Frequency seeds whose guess disagrees are dropped; the surest guesses join, one stored name per public one.
        seeds = {p: n for p, n in frozen.items() if guesses.get(p) == n}
        taken = set(seeds.values())
        for row in sorted(confidence, key=confidence.__getitem__, reverse=True):
            if len(seeds) >= MAX_SEEDS:
                break
            if guesses[row] not in taken:
                seeds[row] = guesses[row]
                taken.add(guesses[row])
    return guesses


def _vote(guesses: dict[int, str], codes: Codes, index: dict[str, int], names: int) -> Codes:
    """Per kind: (code number per stored position, -1 where unsure; public code numbers), by majority of guesses."""
    out = []
    positions = np.array(list(guesses), dtype=np.int64)
    guessed = np.array([index[guesses[p]] for p in positions.tolist()], dtype=np.int64)
    for tokens, public_codes in codes:
        votes: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        for token, code in zip(tokens[positions].tolist(), public_codes[guessed].tolist(), strict=True):
            votes[token][code] += 1
        meaning = {}
        for token, tally in votes.items():
            code, count = max(tally.items(), key=lambda item: item[1])
            if count >= 2 and count > 0.5 * sum(tally.values()):
                meaning[token] = code
        stored = np.array([meaning.get(t, -1) for t in tokens[:names].tolist()], dtype=np.int64)
        out.append((stored, public_codes))
    return out


def _place(
    encoded: np.ndarray,
    public: np.ndarray,
    rows: np.ndarray,
    groups: np.ndarray,
    allowed: dict[int, np.ndarray],
    vocab: Vocabulary,
    voted: Codes,
) -> tuple[dict[int, str], dict[int, float]]:
    """Each stored name's closest allowed public name, and how much closer it is than the next."""
    guesses, confidence = {}, {}
    for group, theirs in allowed.items():
        mine = np.flatnonzero(groups[rows] == group)
        if not len(theirs) or not len(mine):
            continue
        p = public[theirs]
        p_norm = (p**2).sum(1)[None, :]
        for start in range(0, len(mine), _CHUNK):
            part = mine[start : start + _CHUNK]
            e = encoded[part]
            d = (e**2).sum(1)[:, None] + p_norm - 2 * e @ p.T
            if voted:
                ok = np.ones(d.shape, dtype=bool)
                for stored, public_codes in voted:
                    code = stored[rows[part]][:, None]
                    ok &= (code < 0) | (code == public_codes[theirs][None, :])
                ok[~ok.any(axis=1)] = True
                d[~ok] = np.inf
            if len(theirs) > 2:
                order = np.argpartition(d, 1, axis=1)[:, :2]
                first = np.take_along_axis(d, order, axis=1)
                order = np.take_along_axis(order, np.argsort(first, axis=1), axis=1)
            else:
                order = np.argsort(d, axis=1)[:, :2]
            best = d[np.arange(len(part)), order[:, 0]]
            second = d[np.arange(len(part)), order[:, -1]] if len(theirs) > 1 else best + 1
            margin = np.nan_to_num((second - best) / (best + 1.0), nan=0.0, posinf=1e9)
            for k, row in enumerate(rows[part].tolist()):
                guesses[row] = vocab.names[theirs[order[k, 0]]]
                confidence[row] = float(margin[k])
    return guesses, confidence


def pattern_mining(
    clk: np.ndarray, weights: np.ndarray, vocab: Vocabulary, frequency: dict[str, float]
) -> dict[int, str]:
    """Stored position -> public name, from clusters of bits set together (none form under diffusion)."""
    bits = np.unpackbits(clk.view(np.uint8), axis=1, bitorder="little").astype(np.float32)
    present = bits.sum(axis=1) > 0
    bits, rows = bits[present], np.flatnonzero(present)
    together = bits.T @ bits
    ones = np.diag(together)
    jaccard = together / np.maximum(ones[:, None] + ones[None, :] - together, 1)
    parent = list(range(len(ones)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(jaccard > 0.95, 1)), strict=True):
        parent[find(int(i))] = find(int(j))
    clusters: dict[int, list[int]] = defaultdict(list)
    for b in range(len(ones)):
        if ones[b] > 0:
            clusters[find(b)].append(b)
    clusters = {k: v for k, v in clusters.items() if len(v) >= 3}
    if not clusters:
        return {}
    w = weights[rows].astype(np.float64)
    cluster_frequency = {k: float((bits[:, v].min(axis=1) * w).sum()) for k, v in clusters.items()}
    gram_frequency: dict[str, float] = defaultdict(float)
    for name, f in frequency.items():
        for g in bigrams(name):
            gram_frequency[g] += f
    ranked = sorted(gram_frequency, key=gram_frequency.__getitem__, reverse=True)
    label = dict(zip(sorted(cluster_frequency, key=cluster_frequency.__getitem__, reverse=True), ranked, strict=False))
    by_set = {frozenset(s): n for n, s in zip(vocab.names, vocab.sets, strict=True)}
    out = {}
    for k, row in enumerate(rows.tolist()):
        grams = frozenset(label[c] for c, members in clusters.items() if c in label and bits[k, members].all())
        if grams in by_set:
            out[row] = by_set[grams]
    return out


def _soundex(name: str) -> str:
    return jellyfish.soundex(name.replace("-", ""))


def _metaphone(name: str) -> str:
    return jellyfish.metaphone(name.replace("-", ""))


def bloom_graph(view: View, dates: np.ndarray | None = None) -> AttackResult:
    """``dates``: per record, a date of birth (YYYYMMDD) another attack recovered, or None; it sharpens the seeds."""
    result = AttackResult("bloom_graph")
    n = records_count(view)
    clk = array(view, "names.clk", "u", 2)
    family, given = array(view, "records.family", "i", 1), array(view, "records.given", "i", 1)
    if n is None or clk is None or family is None or given is None or len(family) != n:
        result.notes.append("skipped: no readable name filters (plaintext mode, or sealed)")
        return result
    lengths = array(view, "names.length", "iu", 1)
    sex = array(view, "records.sex", "iu", 1)
    names = len(clk)
    dob = None if dates is None else np.array([0 if d is None else d for d in dates], dtype=np.int64)
    families, givens = public_family_frequencies(), public_given_frequencies()
    given_all = {k: givens[1].get(k, 0) + givens[2].get(k, 0) for k in givens[1].keys() | givens[2].keys()}
    seeds = family_seeds(family, lengths, families, FAMILY_SEEDS) | given_seeds(given, sex, dob, lengths, GIVEN_SEEDS)
    vocab = Vocabulary(sorted(families.keys() | given_all.keys()))
    # Groups: role (1 family, 2 given, 3 both) x length; public candidates of the same role and length.
    is_family = np.bincount(family[family >= 0], minlength=names) > 0
    is_given = np.bincount(given[given >= 0], minlength=names) > 0
    role = is_family.astype(np.int64) + 2 * is_given.astype(np.int64)
    length = np.zeros(names, np.int64) if lengths is None else lengths[:names].astype(np.int64)
    groups = np.where(role > 0, role * 1000 + length, -1)
    in_family = np.array([q in families for q in vocab.names])
    in_given = np.array([q in given_all for q in vocab.names])
    allowed = {}
    for group in np.unique(groups[groups >= 0]).tolist():
        r, size = divmod(group, 1000)
        mask = {1: in_family, 2: in_given, 3: in_family | in_given}[r]
        if lengths is not None:
            mask = mask & (vocab.lengths == size)
        allowed[group] = np.flatnonzero(mask)
    codes = []
    for kind, code in (("soundex", _soundex), ("metaphone", _metaphone), ("initial", lambda q: q[0])):
        tokens = array(view, f"names.{kind}", "u", 1)
        if tokens is not None and len(tokens) >= names:
            numbers: dict[str, int] = {}
            codes.append((tokens, np.array([numbers.setdefault(code(q), len(numbers)) for q in vocab.names])))
    guesses = graph_match(clk, groups, seeds, vocab, allowed, codes)
    table = np.full(names + 1, None, dtype=object)
    for p, name in guesses.items():
        table[p] = name
    result.guess("family", n)[:] = table[family]
    result.guess("given", n)[:] = table[given]
    result.notes.append(
        f"graph matching: {len(guesses):,} filters placed from {len(seeds)} frequency seeds; "
        f"{len(codes)} phonetic token kinds voted on"
    )
    for label, counts, public in (("family", family, families), ("given", given, given_all)):
        mined = pattern_mining(clk, np.bincount(counts[counts >= 0], minlength=names), vocab, public)
        result.notes.append(f"pattern mining, {label} names: {len(mined):,} filters spelled out")
    return result
