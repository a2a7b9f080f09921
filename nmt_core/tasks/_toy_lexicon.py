"""The word lists of the toy English->Spanish grammar (``toy_en_es``): data only, no logic.

Every English word form has exactly one part of speech and one Spanish translation, so the grammar can
never produce two targets for one source. Words whose translation depends on context we do not encode
are left out on purpose: "you" plural, "it" (gender unknown), "fish" (same plural), "friend"/"teacher"
(gender unknown), "orange" (noun or colour), "water" ("el agua" is feminine with a masculine article),
animate direct objects (Spanish needs the personal "a").

Noun tags restrict which verbs, adjectives and prepositions a noun meets, so sentences stay plausible.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Noun:
    en: str
    es: str
    gender: str            # "m" | "f"
    tags: frozenset[str]
    en_pl: str = ""        # "" = regular English plural (en + "s"); unused for mass nouns
    es_pl: str = ""        # "" = regular Spanish plural (+"s" after a vowel, +"es" after a consonant)
    mass: bool = False     # mass nouns: singular only, may go without determiner as objects


@dataclass(frozen=True)
class Adj:
    en: str
    es: str                # masculine singular; the other forms follow from the ending
    copula: str            # "ser" | "estar": which "to be" the adjective takes, a fixed rule per word
    tags: frozenset[str]   # noun tags it may describe
    group: int             # English prenominal order: smaller first ("big red car"); one per group
    es_pl: str = ""        # irregular plural ("joven" -> "jóvenes")


@dataclass(frozen=True)
class Verb:
    en: str
    en_3sg: str
    es: tuple[str, str, str, str, str]   # yo, tú, él/ella, nosotros, ellos
    kind: str              # "trans" | "intrans" | "motion"
    subj: frozenset[str]   # noun tags of possible subjects ("person" also allows pronouns)
    obj: frozenset[str] = frozenset()    # noun tags of objects (trans) or goals (motion)
    particle: str = ""     # "look for": English particle folded into the Spanish verb
    prep: tuple[str, str] = ("", "")     # motion verbs: (English, Spanish) preposition of the goal


def _t(*tags: str) -> frozenset[str]:
    return frozenset(tags)


def _n(en: str, es: str, g: str, tags: str, en_pl: str = "", es_pl: str = "", mass: bool = False) -> Noun:
    return Noun(en, es, g, _t(*tags.split()), en_pl, es_pl, mass)


NOUNS: tuple[Noun, ...] = (
    # people (gender is part of the English word, so the Spanish gender is never a guess)
    _n("man", "hombre", "m", "person", "men"), _n("woman", "mujer", "f", "person", "women"),
    _n("boy", "niño", "m", "person"), _n("girl", "niña", "f", "person"),
    _n("brother", "hermano", "m", "person"), _n("sister", "hermana", "f", "person"),
    _n("father", "padre", "m", "person"), _n("mother", "madre", "f", "person"),
    _n("son", "hijo", "m", "person"), _n("daughter", "hija", "f", "person"),
    _n("king", "rey", "m", "person", es_pl="reyes"), _n("queen", "reina", "f", "person"),
    # animals
    _n("dog", "perro", "m", "animal"), _n("cat", "gato", "m", "animal"),
    _n("bird", "pájaro", "m", "animal"), _n("horse", "caballo", "m", "animal"),
    _n("cow", "vaca", "f", "animal"), _n("mouse", "ratón", "m", "animal", "mice", "ratones"),
    _n("rabbit", "conejo", "m", "animal"), _n("frog", "rana", "f", "animal"),
    _n("lion", "león", "m", "animal", es_pl="leones"),
    # things
    _n("car", "coche", "m", "thing vehicle container landmark washable"),
    _n("bicycle", "bicicleta", "f", "thing vehicle landmark washable"),
    _n("book", "libro", "m", "thing readable writable openable"),
    _n("letter", "carta", "f", "thing readable writable openable"),
    _n("newspaper", "periódico", "m", "thing readable"),
    _n("table", "mesa", "f", "thing furniture landmark washable"),
    _n("chair", "silla", "f", "thing furniture landmark"),
    _n("bed", "cama", "f", "thing furniture landmark"),
    _n("door", "puerta", "f", "thing openable landmark"),
    _n("window", "ventana", "f", "thing openable landmark washable"),
    _n("box", "caja", "f", "thing container openable furniture", "boxes"),
    _n("bag", "bolsa", "f", "thing container openable"),
    _n("key", "llave", "f", "thing"),
    _n("cup", "taza", "f", "thing container washable"),
    _n("glass", "vaso", "m", "thing container washable", "glasses"),
    _n("knife", "cuchillo", "m", "thing washable", "knives"),
    _n("shirt", "camisa", "f", "thing washable"),
    _n("computer", "ordenador", "m", "thing", es_pl="ordenadores"),
    # food you can count
    _n("apple", "manzana", "f", "food"), _n("banana", "plátano", "m", "food"),
    _n("cake", "pastel", "m", "food", es_pl="pasteles"), _n("cookie", "galleta", "f", "food"),
    _n("egg", "huevo", "m", "food"), _n("carrot", "zanahoria", "f", "food"),
    _n("tomato", "tomate", "m", "food", "tomatoes"), _n("potato", "patata", "f", "food", "potatoes"),
    _n("sandwich", "bocadillo", "m", "food", "sandwiches"),
    _n("strawberry", "fresa", "f", "food", "strawberries"),
    # food and drink you cannot count (no plural, no "a", may stand bare as an object)
    _n("bread", "pan", "m", "food", mass=True), _n("cheese", "queso", "m", "food", mass=True),
    _n("soup", "sopa", "f", "food", mass=True), _n("rice", "arroz", "m", "food", mass=True),
    _n("meat", "carne", "f", "food", mass=True), _n("chocolate", "chocolate", "m", "food", mass=True),
    _n("milk", "leche", "f", "drink", mass=True), _n("juice", "zumo", "m", "drink", mass=True),
    _n("coffee", "café", "m", "drink", mass=True), _n("tea", "té", "m", "drink", mass=True),
    _n("wine", "vino", "m", "drink", mass=True),
    # places
    _n("house", "casa", "f", "place"), _n("park", "parque", "m", "place"),
    _n("city", "ciudad", "f", "place", "cities", "ciudades"),
    _n("garden", "jardín", "m", "place", es_pl="jardines"),
    _n("school", "escuela", "f", "place"), _n("kitchen", "cocina", "f", "place"),
    _n("street", "calle", "f", "place"), _n("river", "río", "m", "place"),
    _n("forest", "bosque", "m", "place"), _n("market", "mercado", "m", "place"),
    _n("station", "estación", "f", "place", es_pl="estaciones"),
    _n("room", "habitación", "f", "place", es_pl="habitaciones"),
)

# Adjective groups give the English order of two prenominal adjectives (opinion, price, size, age,
# speed, state, temperature, colour); Spanish mirrors it after the noun: "the big red car" ->
# "el coche rojo grande".
_ANIMATE = "person animal"
_ADJ_SPECS: tuple[tuple[str, str, str, str, int], ...] = (
    ("good", "bueno", "ser", "person animal food drink thing", 0),
    ("bad", "malo", "ser", "person animal food drink thing", 0),
    ("beautiful", "bonito", "ser", "animal thing place", 0),
    ("intelligent", "inteligente", "ser", _ANIMATE, 0),
    ("expensive", "caro", "ser", "thing food drink", 1),
    ("cheap", "barato", "ser", "thing food drink", 1),
    ("big", "grande", "ser", "animal thing place food", 2),
    ("small", "pequeño", "ser", "person animal thing place food", 2),
    ("tall", "alto", "ser", "person", 2),
    ("strong", "fuerte", "ser", "person animal drink", 2),
    ("old", "viejo", "ser", "person animal thing place", 3),
    ("new", "nuevo", "ser", "thing place", 3),
    ("young", "joven", "ser", _ANIMATE, 3),
    ("fast", "rápido", "ser", "animal vehicle", 4),
    ("tired", "cansado", "estar", _ANIMATE, 5),
    ("happy", "contento", "estar", _ANIMATE, 5),
    ("sad", "triste", "estar", _ANIMATE, 5),
    ("sick", "enfermo", "estar", _ANIMATE, 5),
    ("busy", "ocupado", "estar", "person", 5),
    ("clean", "limpio", "estar", "thing place", 5),
    ("dirty", "sucio", "estar", "animal thing place", 5),
    ("closed", "cerrado", "estar", "openable", 5),
    ("broken", "roto", "estar", "thing", 5),
    ("full", "lleno", "estar", "container place", 5),
    ("empty", "vacío", "estar", "container place", 5),
    ("delicious", "delicioso", "estar", "food drink", 5),
    ("hot", "caliente", "estar", "food drink", 6),
    ("cold", "frío", "estar", "food drink", 6),
    ("red", "rojo", "ser", "animal thing food place", 7),
    ("green", "verde", "ser", "thing food place", 7),
    ("blue", "azul", "ser", "thing place", 7),
    ("black", "negro", "ser", "animal thing", 7),
    ("white", "blanco", "ser", "animal thing place", 7),
)
ADJS: tuple[Adj, ...] = tuple(
    Adj(en, es, cop, _t(*tags.split()), group, "jóvenes" if es == "joven" else "")
    for en, es, cop, tags, group in _ADJ_SPECS
)

_P = _t("person")
_PA = _t("person", "animal")
VERBS: tuple[Verb, ...] = (
    Verb("eat", "eats", ("como", "comes", "come", "comemos", "comen"), "trans", _PA, _t("food")),
    Verb("drink", "drinks", ("bebo", "bebes", "bebe", "bebemos", "beben"), "trans", _PA, _t("drink")),
    Verb("read", "reads", ("leo", "lees", "lee", "leemos", "leen"), "trans", _P, _t("readable")),
    Verb("write", "writes", ("escribo", "escribes", "escribe", "escribimos", "escriben"), "trans", _P,
         _t("writable")),
    Verb("see", "sees", ("veo", "ves", "ve", "vemos", "ven"), "trans", _PA, _t("thing", "place", "food")),
    Verb("have", "has", ("tengo", "tienes", "tiene", "tenemos", "tienen"), "trans", _P,
         _t("thing", "animal", "food")),
    Verb("want", "wants", ("quiero", "quieres", "quiere", "queremos", "quieren"), "trans", _PA,
         _t("thing", "food", "drink")),
    Verb("need", "needs", ("necesito", "necesitas", "necesita", "necesitamos", "necesitan"), "trans", _P,
         _t("thing", "food", "drink")),
    Verb("buy", "buys", ("compro", "compras", "compra", "compramos", "compran"), "trans", _P,
         _t("thing", "food", "drink")),
    Verb("sell", "sells", ("vendo", "vendes", "vende", "vendemos", "venden"), "trans", _P,
         _t("thing", "food", "drink")),
    Verb("open", "opens", ("abro", "abres", "abre", "abrimos", "abren"), "trans", _P, _t("openable")),
    Verb("close", "closes", ("cierro", "cierras", "cierra", "cerramos", "cierran"), "trans", _P,
         _t("openable")),
    Verb("wash", "washes", ("lavo", "lavas", "lava", "lavamos", "lavan"), "trans", _P,
         _t("washable", "food")),
    Verb("cook", "cooks", ("cocino", "cocinas", "cocina", "cocinamos", "cocinan"), "trans", _P, _t("food")),
    Verb("find", "finds", ("encuentro", "encuentras", "encuentra", "encontramos", "encuentran"), "trans",
         _PA, _t("thing")),
    Verb("look", "looks", ("busco", "buscas", "busca", "buscamos", "buscan"), "trans", _PA,
         _t("thing", "place"), particle="for"),
    Verb("sleep", "sleeps", ("duermo", "duermes", "duerme", "dormimos", "duermen"), "intrans", _PA),
    Verb("run", "runs", ("corro", "corres", "corre", "corremos", "corren"), "intrans", _PA),
    Verb("walk", "walks", ("camino", "caminas", "camina", "caminamos", "caminan"), "intrans", _PA),
    Verb("swim", "swims", ("nado", "nadas", "nada", "nadamos", "nadan"), "intrans", _PA),
    Verb("play", "plays", ("juego", "juegas", "juega", "jugamos", "juegan"), "intrans", _PA),
    Verb("sing", "sings", ("canto", "cantas", "canta", "cantamos", "cantan"), "intrans", _PA),
    Verb("dance", "dances", ("bailo", "bailas", "baila", "bailamos", "bailan"), "intrans", _P),
    Verb("work", "works", ("trabajo", "trabajas", "trabaja", "trabajamos", "trabajan"), "intrans", _P),
    Verb("live", "lives", ("vivo", "vives", "vive", "vivimos", "viven"), "intrans", _PA),
    Verb("go", "goes", ("voy", "vas", "va", "vamos", "van"), "motion", _PA, _t("place"), prep=("to", "a")),
    Verb("come", "comes", ("vengo", "vienes", "viene", "venimos", "vienen"), "motion", _PA, _t("place"),
         prep=("from", "de")),
)

SER = ("soy", "eres", "es", "somos", "son")
ESTAR = ("estoy", "estás", "está", "estamos", "están")

# Determiners: English word -> (number: "sg" | "pl" | "any", Spanish m.sg, f.sg, m.pl, f.pl).
DETS: dict[str, tuple[str, str, str, str, str]] = {
    "the": ("any", "el", "la", "los", "las"),
    "a": ("sg", "un", "una", "", ""),
    "some": ("pl", "", "", "unos", "unas"),
    "this": ("sg", "este", "esta", "", ""),
    "that": ("sg", "ese", "esa", "", ""),
    "these": ("pl", "", "", "estos", "estas"),
    "those": ("pl", "", "", "esos", "esas"),
    "my": ("any", "mi", "mi", "mis", "mis"),
    "your": ("any", "tu", "tu", "tus", "tus"),
    "his": ("any", "su", "su", "sus", "sus"),
    "her": ("any", "su", "su", "sus", "sus"),
    "our": ("any", "nuestro", "nuestra", "nuestros", "nuestras"),
    "their": ("any", "su", "su", "sus", "sus"),
    "two": ("pl", "", "", "dos", "dos"),
    "three": ("pl", "", "", "tres", "tres"),
}

# Subject pronouns: English -> (person index into the 5 verb forms, gender for predicate adjectives).
# "i", "you", "we", "they" do not mark gender in English; Spanish then uses the generic masculine.
PRONOUNS: dict[str, tuple[int, str]] = {
    "i": (0, "m"), "you": (1, "m"), "he": (2, "m"), "she": (2, "f"), "we": (3, "m"), "they": (4, "m"),
}

# Prepositions of adjunct and location phrases: key -> (English tokens, Spanish tokens, object tags).
# A multi-word preposition aligns every Spanish word to every English word of it.
PREPS: dict[str, tuple[tuple[str, ...], tuple[str, ...], frozenset[str]]] = {
    "in": (("in",), ("en",), _t("place", "container")),
    "on": (("on",), ("sobre",), _t("furniture")),
    "under": (("under",), ("debajo", "de"), _t("furniture", "vehicle")),
    "near": (("near",), ("cerca", "de"), _t("place", "landmark")),
    "behind": (("behind",), ("detrás", "de"), _t("place", "landmark")),
    "next": (("next", "to"), ("al", "lado", "de"), _t("place", "landmark")),
    "with": (("with",), ("con",), _t("person", "animal")),
}

CONJS: dict[str, str] = {"and": "y", "but": "pero", "because": "porque"}
WH: dict[str, str] = {"how": "cómo", "where": "dónde", "what": "qué", "who": "quién"}
