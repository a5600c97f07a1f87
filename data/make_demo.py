"""Generate the s2s demo corpus: English fragments paired with invented Demish.

The corpus is small enough for an attention GRU to learn on a laptop CPU in
minutes, yet it cannot be learnt by copying word for word: Demish moves the
verb to the end, turns prepositions into postpositions, puts adjectives after
the noun in reverse order, and makes articles, adjectives, nouns and verbs agree.

    English  SUBJ VERB OBJ [PREP NP]     NP = DET ADJ{0,2} NOUN
    Demish   SUBJ OBJ [NP POSTP] VERB    NP = DET NOUN ADJ{0,2}

Demish articles mark gender (3) x number x definiteness, adjectives gender and
number, nouns number, and the verb the number of its subject:

    The big red dog sees some cats near the river.
    Ka vorn ruda gruna min miseten ku flumar vesi vidit.

Usage: python data/make_demo.py --out DIR [--seed 1] [--train 20000] [--valid 500] [--test 500]
"""

import argparse
import os
import random
import sys
from pathlib import Path


def _lexicon(text):
    """Parse whitespace-separated 'english=demish' items into an ordered dict."""
    return dict(item.split("=") for item in text.split())


# Genders are arbitrary, as in German, so the model has to learn each noun's
# gender from the agreement around it rather than from its meaning or spelling.
MASCULINE = _lexicon("""
    dog=vorn horse=kavol farmer=gorund king=rodan boy=doral friend=tovel
    baker=brakel sailor=navot soldier=kerdan mountain=gorvat""")
FEMININE = _lexicon("""
    cat=miset bird=tiral teacher=lemir queen=sirel girl=nisk doctor=medun
    student=skolim table=mensar flower=florin road=vitram""")
NEUTER = _lexicon("""
    tree=dervol house=domek river=flumar stone=petrin book=librat
    letter=pismel candle=svekan ship=skafen garden=hortil window=okenir""")
NOUNS = {**MASCULINE, **FEMININE, **NEUTER}
GENDER = {noun: gender
          for gender, group in (("m", MASCULINE), ("f", FEMININE), ("n", NEUTER))
          for noun in group}
# English words here all start with a consonant and inflect with a plain -s,
# so the English side needs no a/an or spelling rules.
ADJECTIVES = _lexicon("""
    big=grun small=pett red=rud green=vird blue=blav black=negr white=bjel
    young=jun tall=haust happy=felk sad=trist quiet=kvet brave=kurz
    clever=sapt strong=forz gentle=dulk heavy=pesk bright=lust dark=skur
    cold=frid""")
VERBS = _lexicon("""
    see=vid find=trov like=plak follow=sekv help=hulp want=vol paint=pikt
    visit=besk call=klam know=zan hear=aud keep=gard bring=fer love=am
    hold=ten""")
PREPOSITIONS = _lexicon("""
    in=iko on=supa under=nelo near=vesi behind=pako with=sema""")

# One vowel per gender, shared by articles and adjective endings, so the
# agreement is regular enough to learn from a few thousand sentences.
GENDER_VOWEL = {"m": "a", "f": "i", "n": "u"}
NOUN_PLURAL, VERB_SINGULAR, VERB_PLURAL = "en", "it", "unt"
# More bare nouns than long phrases keeps the mean sentence near 9 words.
ADJECTIVE_COUNT_WEIGHTS = (5, 3, 2)
PP_PROBABILITY = 0.5


def demish_article(gender, definite, plural):
    """Return the Demish article: k-/m- for (in)definite, gender vowel, -n plural."""
    return ("k" if definite else "m") + GENDER_VOWEL[gender] + ("n" if plural else "")


def english_article(definite, plural):
    """Return the English determiner for a noun phrase."""
    if definite:
        return "the"
    return "some" if plural else "a"


def noun_phrase(rng):
    """Draw a noun phrase; return (English words, Demish words, is plural, word links).

    The links (i, j) join English word i to Demish word j: article to article, noun to
    noun, each adjective to its own.
    """
    noun = rng.choice(tuple(NOUNS))
    count = rng.choices((0, 1, 2), weights=ADJECTIVE_COUNT_WEIGHTS)[0]
    adjectives = rng.sample(tuple(ADJECTIVES), count)
    definite = rng.random() < 0.5
    plural = rng.random() < 0.5
    gender = GENDER[noun]
    ending = GENDER_VOWEL[gender] + ("r" if plural else "")
    src = [english_article(definite, plural), *adjectives, noun + ("s" if plural else "")]
    tgt = [demish_article(gender, definite, plural),
           NOUNS[noun] + (NOUN_PLURAL if plural else ""),
           *(ADJECTIVES[adj] + ending for adj in reversed(adjectives))]
    links = [(0, 0), (count + 1, 1), *((1 + a, 1 + count - a) for a in range(count))]
    return src, tgt, plural, links


def _sentence(words):
    """Join words into a line: first word capitalised, a full stop on the last word."""
    return " ".join([words[0].capitalize(), *words[1:]]) + "."


def aligned_pair(rng):
    """Draw one (English, Demish) sentence pair and its word alignment: sorted 0-based
    (English word, Demish word) links, every word of both sides linked exactly once."""
    subj_src, subj_tgt, subj_plural, subj_links = noun_phrase(rng)
    verb = rng.choice(tuple(VERBS))
    obj_src, obj_tgt, _, obj_links = noun_phrase(rng)
    src = [*subj_src, verb if subj_plural else verb + "s", *obj_src]
    tgt = [*subj_tgt, *obj_tgt]
    links = subj_links + [(len(subj_src) + 1 + i, len(subj_tgt) + j) for i, j in obj_links]
    if rng.random() < PP_PROBABILITY:
        prep = rng.choice(tuple(PREPOSITIONS))
        pp_src, pp_tgt, _, pp_links = noun_phrase(rng)
        links += [(len(src) + 1 + i, len(tgt) + j) for i, j in pp_links]
        links.append((len(src), len(tgt) + len(pp_tgt)))
        src += [prep, *pp_src]
        tgt += [*pp_tgt, PREPOSITIONS[prep]]
    links.append((len(subj_src), len(tgt)))
    tgt.append(VERBS[verb] + (VERB_PLURAL if subj_plural else VERB_SINGULAR))
    return _sentence(src), _sentence(tgt), sorted(links)


def sentence_pair(rng):
    """Draw one (English, Demish) sentence pair."""
    src, tgt, _ = aligned_pair(rng)
    return src, tgt


def generate(n, rng, seen=None):
    """Draw n pairs with distinct English sides, none of them already in seen.

    seen is updated in place, so sharing one set across calls keeps splits
    disjoint. The sentence space (~1e17) is vast, so redraws are rare.
    """
    seen = set() if seen is None else seen
    pairs = []
    while len(pairs) < n:
        src, tgt = sentence_pair(rng)
        if src not in seen:
            seen.add(src)
            pairs.append((src, tgt))
    return pairs


def make_splits(seed=1, train=20000, valid=500, test=500):
    """Return {split name: pairs} for a seed, with no English sentence repeated.

    Test and valid are drawn before train so that they stay the same whatever
    the train size, and models trained on different sizes stay comparable.
    """
    rng, seen = random.Random(seed), set()
    test_pairs = generate(test, rng, seen)
    valid_pairs = generate(valid, rng, seen)
    return {"train": generate(train, rng, seen), "valid": valid_pairs, "test": test_pairs}


def write_split(out, name, pairs):
    """Write out/name.src and out/name.tgt, one sentence per line, UTF-8, LF.

    Each file goes to a temporary name first and is then renamed, so an
    interrupted run never leaves a truncated corpus file that looks complete.
    """
    for side, ext in ((0, "src"), (1, "tgt")):
        path = out / f"{name}.{ext}"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(pair[side] + "\n" for pair in pairs),
                       encoding="utf-8", newline="\n")
        os.replace(tmp, path)


def _count(text):
    """Parse a non-negative sentence count for argparse."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def main(argv=None):
    """Command line entry point: write the demo corpus to --out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--train", type=_count, default=20000)
    parser.add_argument("--valid", type=_count, default=500)
    parser.add_argument("--test", type=_count, default=500)
    args = parser.parse_args(argv)
    splits = make_splits(args.seed, args.train, args.valid, args.test)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, pairs in splits.items():
        write_split(args.out, name, pairs)
    print(f"make_demo: wrote {args.train} train, {args.valid} valid, {args.test} test "
          f"pairs to {args.out} (seed {args.seed})", file=sys.stderr)


if __name__ == "__main__":
    main()
