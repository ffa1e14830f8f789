"""The sample shop's vocabulary: brands, categories, colours, places and people, in Swedish and Norwegian.

Every tuple that carries text has the Swedish (sv-SE) form first and the Norwegian (nb-NO) form second.
"""

from __future__ import annotations

from typing import NamedTuple

# Brands: (ManufacturerCode, ManufacturerName).
BRANDS = (
    ("FJV", "Fjällvind"),
    ("NRK", "Nordkam"),
    ("TTC", "Tundra Tech"),
    ("BOB", "Björk & Berg"),
    ("VID", "Vidde Outdoor"),
    ("PLY", "Polarlys"),
    ("SKV", "Skarven"),
    ("LVG", "Lavvo Gear"),
    ("ORE", "Öresund Equipment"),
    ("TRL", "Trollheimen Tekstil"),
)

# Model names: Nordic mountains, valleys and islands.
MODELS = (
    "Abisko",
    "Kebnekaise",
    "Sarek",
    "Padjelanta",
    "Kungsleden",
    "Tarfala",
    "Sylarna",
    "Helags",
    "Jotunheimen",
    "Rondane",
    "Hardangervidda",
    "Trollheimen",
    "Lofoten",
    "Senja",
    "Dovre",
    "Femund",
    "Vålådalen",
    "Årefjällen",
    "Härjedalen",
    "Røros",
    "Tromsø",
    "Skjærgård",
    "Fjærland",
    "Ørsta",
    "Kåfjord",
    "Lyngen",
    "Storsylen",
    "Hemavan",
    "Älvdalen",
    "Åre",
    "Sälen",
    "Björkliden",
    "Nikkaluokta",
    "Sjödalen",
    "Gjende",
    "Bessegg",
    "Snøhetta",
    "Galdhøpiggen",
    "Stetind",
    "Tärnaby",
    "Ammarnäs",
    "Kvikkjokk",
    "Sulitelma",
    "Blåhammaren",
    "Storulvån",
    "Grövelsjön",
    "Fulufjället",
    "Hoburgen",
    "Øvre Dividal",
    "Rago",
    "Reinheimen",
    "Breheimen",
    "Folgefonna",
    "Jostedal",
    "Hallingskarvet",
    "Finse",
    "Kjerag",
    "Preikestolen",
    "Vesterålen",
    "Varanger",
    "Ålesund",
    "Kinnekulle",
    "Höga Kusten",
    "Skuleskogen",
    "Tyresta",
    "Kosterhavet",
    "Stora Sjöfallet",
)


class Colour(NamedTuple):
    code: str
    sv: str
    nb: str


COLOURS = (
    Colour("BLK", "Svart", "Svart"),
    Colour("GRN", "Skogsgrön", "Skoggrønn"),
    Colour("BLU", "Fjällblå", "Fjellblå"),
    Colour("RED", "Röd", "Rød"),
    Colour("ORG", "Orange", "Oransje"),
    Colour("GRY", "Grå", "Grå"),
    Colour("YEL", "Gul", "Gul"),
    Colour("NVY", "Marinblå", "Marineblå"),
    Colour("OLV", "Olivgrön", "Olivengrønn"),
    Colour("BRD", "Vinröd", "Vinrød"),
    Colour("SND", "Sand", "Sand"),
)


class Kind(NamedTuple):
    """How a category's products split into variants and SKUs."""

    sizes: tuple[str, ...]  # SKU sizes; () means one SKU per variant
    run: tuple[int, int]  # how many consecutive sizes a product has (min, max)
    variants: tuple[int, int]  # how many variants (colours or models) a product has
    by_colour: bool  # variants are colours (else the category's own variant names)


APPAREL = Kind(("XS", "S", "M", "L", "XL", "XXL"), (2, 4), (1, 2), True)
FOOTWEAR = Kind(tuple(str(n) for n in range(36, 47)), (3, 6), (1, 2), True)
SOCKS = Kind(("35-38", "39-42", "43-46"), (2, 3), (1, 2), True)
HEADWEAR = Kind(("S/M", "L/XL"), (2, 2), (1, 2), True)
COLOURED = Kind((), (1, 1), (1, 3), True)
MODELLED = Kind((), (1, 1), (1, 3), False)


class Category(NamedTuple):
    code: str
    sv: str
    nb: str
    parent: str
    kind: Kind
    weight: int  # share of the assortment
    is_food: bool
    types: tuple[tuple[str, str, int, float], ...]  # (sv, nb, consumer price SEK incl. VAT, kg)
    variants: tuple[tuple[str, str, str], ...] = ()  # (code, sv, nb) when not by colour
    sentences: tuple[tuple[str, str], ...] = ()


PARENTS = (
    ("klader", "Kläder", "Klær"),
    ("skor", "Skor", "Sko"),
    ("utrustning", "Utrustning", "Utstyr"),
    ("mat", "Mat & dryck", "Mat og drikke"),
)

CATEGORIES = (
    Category(
        "jackor",
        "Jackor",
        "Jakker",
        "klader",
        APPAREL,
        16,
        False,
        (
            ("skaljacka", "skalljakke", 2999, 0.55),
            ("dunjacka", "dunjakke", 2499, 0.65),
            ("fleecejacka", "fleecejakke", 899, 0.45),
            ("vindjacka", "vindjakke", 1299, 0.3),
        ),
        sentences=(
            (
                "Vattentät och andningsaktiv för långa dagar på fjället.",
                "Vanntett og pustende for lange dager på fjellet.",
            ),
            (
                "Huvan rymmer en hjälm och justeras med en hand.",
                "Hetta har plass til hjelm og justeres med én hånd.",
            ),
            (
                "Tillverkad av återvunnen polyester med PFC-fri impregnering.",
                "Laget av resirkulert polyester med PFC-fri impregnering.",
            ),
            (
                "Ventilationsöppningar under armarna släpper ut värmen i uppförsbackarna.",
                "Ventilasjonsåpninger under armene slipper ut varmen i motbakkene.",
            ),
        ),
    ),
    Category(
        "byxor",
        "Byxor",
        "Bukser",
        "klader",
        APPAREL,
        12,
        False,
        (
            ("vandringsbyxa", "turbukse", 1199, 0.45),
            ("skalbyxa", "skallbukse", 1899, 0.4),
            ("shorts", "shorts", 599, 0.2),
        ),
        sentences=(
            (
                "Stretchpaneler ger full rörelsefrihet när du klättrar.",
                "Strekkpaneler gir full bevegelsesfrihet når du klatrer.",
            ),
            (
                "Förstärkta knän och bak tål sten, ris och våta stubbar.",
                "Forsterkede knær og sete tåler stein, kratt og våte stubber.",
            ),
            ("Benfickan rymmer en karta i A5-format.", "Lårlommen har plass til et kart i A5-format."),
        ),
    ),
    Category(
        "understall",
        "Underställ",
        "Superundertøy",
        "klader",
        APPAREL,
        8,
        False,
        (("ulltröja", "ullgenser", 799, 0.2), ("underställsbyxa", "ullongs", 699, 0.18)),
        sentences=(
            (
                "Mjuk merinoull som värmer även när den är fuktig.",
                "Myk merinoull som varmer selv når den er fuktig.",
            ),
            ("Platta sömmar som inte skaver under ryggsäcken.", "Flate sømmer som ikke gnager under sekken."),
        ),
    ),
    Category(
        "mossor",
        "Mössor & vantar",
        "Luer og votter",
        "klader",
        HEADWEAR,
        6,
        False,
        (("mössa", "lue", 299, 0.08), ("vantar", "votter", 449, 0.12), ("handskar", "hansker", 399, 0.1)),
        sentences=(
            ("Stickad i tät ull som stänger ute blåsten.", "Strikket i tett ull som holder vinden ute."),
            ("Reflexdetaljer syns i mörkret.", "Refleksdetaljer synes i mørket."),
        ),
    ),
    Category(
        "strumpor",
        "Strumpor",
        "Sokker",
        "klader",
        SOCKS,
        6,
        False,
        (("vandringsstrumpa", "turstrømpe", 199, 0.08), ("ullstrumpa", "ullsokk", 169, 0.07)),
        sentences=(
            (
                "Dämpad sula och förstärkt häl för långa vandringar.",
                "Dempet såle og forsterket hæl for lange turer.",
            ),
            (
                "Ull och nylon i en blandning som torkar snabbt.",
                "Ull og nylon i en blanding som tørker raskt.",
            ),
        ),
    ),
    Category(
        "kangor",
        "Kängor & skor",
        "Støvler og sko",
        "skor",
        FOOTWEAR,
        6,
        False,
        (("vandringskänga", "fjellstøvel", 2299, 1.2), ("trailsko", "terrengsko", 1499, 0.7)),
        sentences=(
            (
                "Vattentätt membran och grov sula med bra grepp på våta hällar.",
                "Vanntett membran og grov såle med godt grep på våte svaberg.",
            ),
            ("Stabil häl som stöttar när packningen är tung.", "Stabil hæl som støtter når sekken er tung."),
        ),
    ),
    Category(
        "ryggsackar",
        "Ryggsäckar",
        "Sekker",
        "utrustning",
        COLOURED,
        9,
        False,
        (
            ("dagsryggsäck 25 l", "dagstursekk 25 l", 899, 0.9),
            ("vandringsryggsäck 45 l", "tursekk 45 l", 1899, 1.6),
            ("expeditionsryggsäck 70 l", "ekspedisjonssekk 70 l", 2999, 2.3),
        ),
        sentences=(
            (
                "Justerbar ryggrad som passar både korta och långa ryggar.",
                "Justerbar rygg som passer både korte og lange rygger.",
            ),
            (
                "Regnskydd ingår och ligger i ett eget fack i botten.",
                "Regntrekk følger med og ligger i en egen lomme i bunnen.",
            ),
        ),
    ),
    Category(
        "talt",
        "Tält",
        "Telt",
        "utrustning",
        MODELLED,
        5,
        False,
        (("tunneltält", "tunneltelt", 4999, 2.8), ("kupoltält", "kuppeltelt", 3999, 2.4)),
        variants=(
            ("2P", "2 personer", "2 personer"),
            ("3P", "3 personer", "3 personer"),
            ("4P", "4 personer", "4 personer"),
        ),
        sentences=(
            (
                "Snabbt att resa eftersom inner- och yttertält sitter ihop.",
                "Raskt å sette opp fordi inner- og yttertelt henger sammen.",
            ),
            ("Två absider ger plats för packning och kök.", "To apsider gir plass til pakning og kjøkken."),
        ),
    ),
    Category(
        "sovsackar",
        "Sovsäckar",
        "Soveposer",
        "utrustning",
        MODELLED,
        5,
        False,
        (("dunsovsäck", "dunpose", 3499, 1.1), ("syntetsovsäck", "syntetpose", 1799, 1.5)),
        variants=(("REG", "Regular", "Regular"), ("LNG", "Lång", "Lang")),
        sentences=(
            ("Komforttemperatur ned till minus fem grader.", "Komforttemperatur ned til minus fem grader."),
            (
                "Packas ned i en kompressionspåse som följer med.",
                "Pakkes ned i en kompresjonspose som følger med.",
            ),
        ),
    ),
    Category(
        "kok",
        "Kök",
        "Kjøkken",
        "utrustning",
        MODELLED,
        6,
        False,
        (
            ("stormkök", "stormkjøkken", 1299, 0.9),
            ("kokkärl", "kokekar", 499, 0.4),
            ("termos 0,75 l", "termos 0,75 l", 399, 0.45),
        ),
        variants=(("STD", "Standard", "Standard"), ("ULT", "Ultralätt", "Ultralett")),
        sentences=(
            ("Koker en liter vatten på under fyra minuter.", "Koker en liter vann på under fire minutter."),
            ("Allt packas i varandra och tar liten plats.", "Alt pakkes i hverandre og tar liten plass."),
        ),
    ),
    Category(
        "lampor",
        "Pannlampor",
        "Hodelykter",
        "utrustning",
        COLOURED,
        4,
        False,
        (("pannlampa", "hodelykt", 599, 0.1), ("lykta", "lykt", 349, 0.2)),
        sentences=(
            (
                "Laddas med USB-C och lyser i upp till 40 timmar.",
                "Lades med USB-C og lyser i opptil 40 timer.",
            ),
            ("Rött ljus bevarar mörkerseendet i tältet.", "Rødt lys bevarer mørkesynet i teltet."),
        ),
    ),
    Category(
        "tillbehor",
        "Tillbehör",
        "Tilbehør",
        "utrustning",
        COLOURED,
        9,
        False,
        (
            ("vattenflaska", "drikkeflaske", 249, 0.2),
            ("vandringsstavar", "turstaver", 899, 0.5),
            ("kniv", "kniv", 449, 0.15),
            ("sittunderlag", "sitteunderlag", 149, 0.05),
            ("kompass", "kompass", 399, 0.05),
        ),
        sentences=(
            ("Tål både frost och hårda tag.", "Tåler både frost og hard bruk."),
            (
                "En liten sak som gör stor skillnad på turen.",
                "En liten ting som gjør stor forskjell på turen.",
            ),
        ),
    ),
    Category(
        "friluftsmat",
        "Friluftsmat",
        "Turmat",
        "mat",
        MODELLED,
        8,
        True,
        (
            ("frystorkad måltid", "frysetørket måltid", 119, 0.15),
            ("energibar", "energibar", 35, 0.05),
            ("blåbärssoppa", "blåbærsuppe", 49, 0.1),
        ),
        variants=(
            ("CHI", "Chili con carne", "Chili con carne"),
            ("BOL", "Pasta bolognese", "Pasta bolognese"),
            ("TIK", "Kyckling tikka masala", "Kylling tikka masala"),
            ("REN", "Renskav med potatismos", "Reinsdyrgryte med potetmos"),
            ("LAX", "Lax med dill", "Laks med dill"),
            ("VEG", "Vegansk gryta", "Vegansk gryte"),
        ),
        sentences=(
            (
                "Häll på kokande vatten och ät direkt ur påsen.",
                "Hell på kokende vann og spis rett fra posen.",
            ),
            ("Hållbar i minst tre år i rumstemperatur.", "Holdbar i minst tre år i romtemperatur."),
        ),
    ),
)

GENDERS = (("herr", "herre"), ("dam", "dame"))
THEMES = (
    ("vandring", "Vandring", "Fottur"),
    ("vinter", "Vinter", "Vinter"),
    ("fjall", "Fjäll", "Fjell"),
    ("nyheter", "Nyheter", "Nyheter"),
)
CLOSING = (
    ("Namngiven efter {place}.", "Oppkalt etter {place}."),
    ("Utvecklad och testad i {place}.", "Utviklet og testet i {place}."),
    ("Ett säkert val för turer kring {place}.", "Et trygt valg for turer rundt {place}."),
)

SV_PLACES = (
    "Åre",
    "Östersund",
    "Kiruna",
    "Luleå",
    "Umeå",
    "Sundsvall",
    "Falun",
    "Sälen",
    "Göteborg",
    "Malmö",
    "Jönköping",
    "Växjö",
    "Örebro",
    "Västerås",
    "Uppsala",
    "Gävle",
    "Härnösand",
    "Örnsköldsvik",
    "Skellefteå",
    "Storuman",
    "Tärnaby",
    "Hemavan",
    "Abisko",
    "Jokkmokk",
    "Arjeplog",
    "Stockholm",
    "Borås",
    "Karlstad",
    "Visby",
    "Ljusdal",
    "Funäsdalen",
    "Idre",
    "Vemdalen",
    "Mora",
    "Älmhult",
)
NO_PLACES = (
    "Tromsø",
    "Bodø",
    "Lillehammer",
    "Geilo",
    "Hemsedal",
    "Trysil",
    "Bergen",
    "Ålesund",
    "Førde",
    "Røros",
    "Svolvær",
    "Narvik",
    "Alta",
    "Kautokeino",
    "Stavanger",
    "Kristiansand",
    "Hamar",
    "Oppdal",
    "Sogndal",
    "Voss",
    "Lærdal",
    "Beitostølen",
    "Gjøvik",
    "Molde",
    "Mo i Rana",
    "Oslo",
)
SV_TRADES = (
    "Fjällsport",
    "Friluftsbutik",
    "Äventyr",
    "Guideservice",
    "Skidskola",
    "Kanotcenter",
    "Vildmarkshotell",
    "Outdoor",
    "Jakt & Fiske",
    "Fjällstation",
    "Turistcenter",
    "Sportcenter",
    "Klätterklubb",
    "Hundspann",
    "Fjällräddning",
    "Lägerskola",
)
NO_TRADES = (
    "Fjellsport",
    "Friluftsbutikk",
    "Eventyr",
    "Guidetjenester",
    "Skiskole",
    "Padlesenter",
    "Villmarkshotell",
    "Turlag",
    "Jakt og Fiske",
    "Fjellstue",
    "Sportsenter",
    "Klatreklubb",
    "Hundekjøring",
    "Leirskole",
)
SV_FIRST = (
    "Åsa",
    "Anders",
    "Björn",
    "Erik",
    "Karin",
    "Lars",
    "Maria",
    "Märta",
    "Göran",
    "Sören",
    "Ingrid",
    "Linnéa",
    "Malin",
    "Oskar",
    "Tove",
    "Ulf",
    "Åke",
    "Örjan",
    "Johan",
    "Elin",
    "Sofia",
    "Emma",
    "Per",
    "Nils",
    "Helena",
    "Kerstin",
    "Mats",
    "Jörgen",
    "Anneli",
    "Ylva",
    "Gunnar",
    "Sigrid",
    "Stina",
)
SV_LAST = (
    "Öberg",
    "Åström",
    "Lindqvist",
    "Björklund",
    "Sjöberg",
    "Ekström",
    "Löfgren",
    "Nyström",
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Bergström",
    "Holmgren",
    "Forsberg",
    "Sandström",
    "Lundqvist",
    "Hägglund",
    "Ågren",
    "Wästberg",
    "Söderlund",
    "Fältskog",
    "Näslund",
)
NO_FIRST = (
    "Øystein",
    "Ståle",
    "Bjørn",
    "Kjetil",
    "Solveig",
    "Ingrid",
    "Håkon",
    "Siri",
    "Trond",
    "Marte",
    "Eirik",
    "Åse",
    "Jørgen",
    "Tone",
    "Ragnhild",
    "Torbjørn",
    "Kari",
    "Ola",
    "Nora",
    "Sindre",
    "Live",
    "Mathilde",
    "Gaute",
    "Vegard",
    "Synnøve",
    "Kåre",
)
NO_LAST = (
    "Haugen",
    "Hansen",
    "Johansen",
    "Løvås",
    "Sæther",
    "Bråten",
    "Dæhlie",
    "Strøm",
    "Bakken",
    "Nygård",
    "Solberg",
    "Kristiansen",
    "Berg",
    "Lie",
    "Aasen",
    "Ødegård",
    "Sørensen",
    "Østby",
    "Vestbø",
    "Fjærli",
    "Kvåle",
    "Grønvold",
    "Skjærvø",
    "Hætta",
)

# Competitors: (CompetitorCode, CompetitorName, SalesArea, currency, freight).
COMPETITORS = (
    ("FJB", "Fjällboden", "Sweden", "SEK", 49.0),
    ("FVH", "Friluftsvaruhuset", "Sweden", "SEK", 0.0),
    ("TKP", "Turkompaniet", "Norway", "NOK", 79.0),
)

_ASCII = str.maketrans(
    {
        "å": "a",
        "ä": "a",
        "ö": "o",
        "æ": "ae",
        "ø": "o",
        "é": "e",
        "ü": "u",
        "&": "",
        " ": "",
        "-": "",
        ".": "",
        ",": "",
    }
)


def ascii_slug(text: str) -> str:
    """Lower-case ASCII form of a Nordic name, for e-mail addresses and domains.

    >>> ascii_slug("Fjällsport Åre")
    'fjallsportare'
    """
    return text.lower().translate(_ASCII)
