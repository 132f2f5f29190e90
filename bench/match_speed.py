"""Matcher speed benchmark: index build time, index memory and items/s by watchlist size.

Why
---
The matcher runs on every new item of every feed, and its index is rebuilt
whenever a watchlist changes (including from chat). The issue sets two
targets: at least 5,000 items/s at 10,000 aliases with fuzzy matching on (the
default threshold, 90) and an index build of at most 2 s. This script measures
those figures through the public API only::

    Matcher(entities, threshold)            # builds the index
    Matcher.match_text(title, summary)      # list[Match]

so it keeps working while the matcher's internals are rewritten.

What runs
---------
Everything is generated from ``random.Random(--seed)`` (default 7), so two runs
with the same options see the same text and the same watchlists.

* News: ``--items`` (5,000) wire-style items about South and Central Asian
  security, politics, business, sport and weather. Titles have about 8-14
  words, summaries 30-60. Words are drawn with Zipfian weights from pools of a
  few thousand distinct words (common English nouns, verbs in all their
  forms, adjectives, real and synthesised place and person names, ALL-CAPS
  acronyms, Cyrillic words, accented names), so the text has a long tail of
  rare words as real copy does. About 10 % of the items mention one or two
  entities of the watchlist under test: plain, possessive ("TTP's"),
  hyphen-joined ("ISKP-linked", "Fergana Valley-based") and, in about 15 % of
  those mentions, with a one-letter spelling variation; accented aliases are
  sometimes written without their accents. The rest of the text is the same
  for every watchlist size; only the planted mentions differ.
* Watchlists of 100, 1,000 and 10,000 aliases in total (``--sizes``): a seed
  list of about 100 real aliases (ISKP, Tehrik-i-Taliban Pakistan, Fergana
  Valley, Dushanbé, Ajit Doval, ...) followed by synthesised entities of kind
  group, region and person with 1-5 aliases each: names built from syllables
  ("Zarobod", "North Kharpur", "Tehrik-i-Nusrat Tashbulak", "Lashkar-e-Hilal",
  "Gulnara Saidzai"), acronyms of 2-5 capitals ("TNT", "LeH"), transliteration
  variants, "X Province"/"X City" forms, titles ("President Karzabov") and
  some accented spellings. No alias repeats (after case, accent and
  punctuation folding), and no single-word alias is a word of the news text
  (nor one with doubled letters merged, as Ammir would be Amir).

What is measured, per size
--------------------------
* Build: ``time.perf_counter`` around ``Matcher(entities, threshold)``, and the
  process RSS before and after it (``/proc/self/statm``). A second, identical
  build runs under ``tracemalloc``: its peak (during construction) and its
  retained allocation (still held once the matcher exists) are the index
  memory. tracemalloc slows Python down several times, hence two builds; the
  second one finds module-level caches (if the matcher has any) already warm,
  which the RSS delta of the first one does include.
* Matching: one warm-up pass over the first 200 items (not timed), then
  ``match_text`` on all items in one process, one thread, timed as a whole
  (items/s) and per item (median, 99th percentile, max). Also reported:
  matches returned, items with at least one match, the share of planted
  mentions found (by form), and items with a match but no planted mention
  (a synthetic name that happens to be close to an alias, or a seed place).
* ``--brute``: on the 1,000-alias watchlist, a brute-force reference on a
  300-item sample. For every item field and every alias: acronyms and short
  aliases (four letters or fewer, or a capital after the first letter, the
  rule the watchlists document) must occur as a whole, case-sensitive word;
  every other alias must reach ``rapidfuzz.fuzz.partial_ratio >= 95`` against
  the field, both normalised (accents transliterated, possessive 's and
  apostrophes dropped, other punctuation to spaces, lower case, padded with a
  space at both ends so a hit is aligned to words). The matcher's recall is
  the share of those (item, entity) pairs it found too. The reference is
  cruder than the matcher in both directions (it knows nothing of nested
  mentions or transliteration skeletons), so read it as a pointer to cases to
  look at, which it prints, not as ground truth.

Targets (informational: the exit status is 0 whatever the figures) are printed
beside each row: build <= 2 s, and >= 5,000 items/s, which the issue sets at
10,000 aliases; smaller sizes show the same bar for comparison.

Run from the project root (no installation needed)::

    python bench/match_speed.py                    # 5,000 items x 100, 1,000, 10,000 aliases
    python bench/match_speed.py --sizes 1000 --brute
    python bench/match_speed.py --limit 1000       # time only the first 1,000 items
    python bench/match_speed.py --json             # machine-readable
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import re
import statistics
import sys
import time
import tracemalloc
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import rapidfuzz  # noqa: E402
from anyascii import anyascii  # noqa: E402
from rapidfuzz import fuzz  # noqa: E402

from bot.matching.matcher import Matcher  # noqa: E402
from bot.models import Entity  # noqa: E402

TARGET_ITEMS_PER_S = 5_000.0
TARGET_AT_ALIASES = 10_000
TARGET_BUILD_S = 2.0
WARMUP_ITEMS = 200
PLANTED_SHARE = 0.10
MISSPELL_SHARE = 0.15
BRUTE_SIZE = 1_000
BRUTE_SAMPLE = 300
BRUTE_CUTOFF = 95.0
MIB = 1024 * 1024

# --- word pools ------------------------------------------------------------------
# Roughly most frequent first: a pool's i-th word is drawn with weight 1 / i**1.05.

NOUNS = """
government official minister police attack border security force leader country
president report year week day month province district city town village region
area market price company bank deal agreement meeting election vote party member
parliament court judge law case trial protest rally group fighter soldier commander
operation raid strike bomb blast explosion checkpoint convoy vehicle road highway
bridge school hospital student teacher doctor patient family child woman man
resident farmer worker trader driver journalist reporter spokesman spokeswoman
statement interview source witness victim suspect prisoner hostage refugee migrant
camp truck plant project plan budget loan debt investor share stock rate export
import pipeline field mine factory crop harvest storm flood heatwave drought
earthquake avalanche landslide temperature forecast season match team player coach
captain squad tournament series final goal run wicket medal championship league
club stadium fan official authority agency ministry department office commission
committee council assembly senate cabinet coalition alliance opposition candidate
voter ballot poll campaign seat constituency lawmaker senator governor mayor
ambassador envoy delegation summit visit talk negotiation ceasefire truce accord
treaty pact dispute conflict crisis clash fight battle war insurgency insurgent
rebel gunman attacker assailant bomber sniper mortar rocket drone missile shell
grenade rifle weapon ammunition explosive device landmine tunnel outpost post
base barracks garrison patrol unit battalion brigade regiment division officer
general colonel major captain sergeant guard recruit veteran casualty death injury
funeral body survivor rescue evacuation curfew lockdown blockade siege offensive
crackdown arrest detention sentence verdict ruling appeal petition charge hearing
lawyer prosecutor investigation inquiry probe audit scandal allegation accusation
claim denial warning threat demand request proposal measure policy reform bill
amendment decree order ban restriction sanction tariff quota subsidy incentive
package fund grant donor contract tender bid auction licence permit concession
sector industry economy output production consumption demand supply shortage
surplus deficit reserve currency dollar euro rupee tenge som afghani manat taka
cent profit loss revenue earning dividend bond yield asset portfolio exchange
index benchmark quarter forecast estimate figure statistic survey census
population household income wage salary pension job unemployment employer employee
union strike shop store mall bazaar shopkeeper merchant exporter importer producer
manufacturer supplier customer consumer tourist passenger flight airport airline
railway train station bus tram port ship cargo container shipment consignment
warehouse depot terminal corridor route crossing gate fence wall barrier
dam reservoir canal river lake glacier valley mountain pass slope peak plain
desert steppe forest orchard vineyard farm field cotton crop livestock herd
sheep cattle horse camel goat village hamlet settlement neighbourhood street
square park mosque church temple shrine madrassa university college academy
institute laboratory clinic ward bed vaccine dose virus outbreak epidemic disease
infection symptom diagnosis treatment drug medicine nurse surgeon ambulance
emergency disaster relief tent blanket shelter house home building roof wall
window floor stair tower monument museum library archive document file record
letter memo email message post video photo image footage broadcast channel
newspaper editor column headline story article correspondent anchor presenter
website platform account user hacker password network server cable satellite
signal tower antenna phone smartphone laptop computer chip software app startup
entrepreneur founder executive chairman director manager board shareholder
partner rival competitor bidder buyer seller lender borrower creditor debtor
taxpayer citizen voter activist campaigner volunteer critic analyst expert
economist scientist researcher professor scholar cleric imam priest monk pilgrim
elder chief tribesman clan tribe community minority majority faction wing bloc
movement network organisation foundation charity donor sponsor partner ally
neighbour enemy target attempt plot conspiracy cell hideout compound safehouse
cache stockpile arsenal shipment smuggler trafficker gang cartel kingpin militia
volunteer fighter jihadist extremist separatist nationalist loyalist royalist
monarch king queen prince princess emperor dynasty regime junta coup uprising
revolution referendum constitution charter mandate term tenure successor
predecessor nominee appointee deputy aide adviser secretary clerk inspector
auditor regulator watchdog ombudsman mediator negotiator broker dealer agent
spy informant defector deserter prisoner detainee convict inmate fugitive
suspect accomplice ringleader mastermind leader founder heir
"""
MASS_NOUNS = """
security violence unrest water electricity power gas oil wheat cotton rice flour
sugar fuel petrol diesel inflation growth revenue funding aid support pressure
evidence information intelligence equipment machinery infrastructure agriculture
tourism trade investment corruption terrorism extremism militancy smuggling
trafficking poverty unemployment migration healthcare education justice democracy
freedom stability peace tension uncertainty confusion anger concern progress
cooperation assistance research weather rain snow fog smog heat ice debris traffic
footage advice momentum cricket football wrestling hockey boxing polo archery
weightlifting judo athletics kabaddi buzkashi flooding hail frost pollution dust
coal uranium gold copper steel cement aluminium cash credit debt capital labour
"""
ADJECTIVES = """
new former local national regional provincial federal military political economic
foreign domestic international official senior top key major minor main large
small big huge massive heavy light strong weak high low long short early late
recent last next first final previous current annual monthly weekly daily fresh
further joint public private independent suspected alleged armed unarmed banned
outlawed militant insurgent separatist extremist radical moderate conservative
liberal hardline ruling interim caretaker acting deputy leading prominent
influential powerful controversial unprecedented significant serious severe
critical dangerous deadly fatal violent peaceful fragile tense uneasy stable
volatile remote rural urban mountainous northern southern eastern western central
coastal bilateral multilateral strategic tactical humanitarian medical financial
fiscal monetary commercial industrial agricultural digital technical legal illegal
judicial constitutional parliamentary presidential electoral diplomatic ministerial
educational religious ethnic tribal sectarian cultural historic traditional modern
wider broader deeper sharp steep modest slight gradual rapid sudden unexpected
emergency urgent immediate temporary permanent partial full complete total overall
net gross average lowest highest worst best biggest largest latest busy quiet cold
hot dry wet freezing torrential dense thick toxic clean renewable solar nuclear
hydroelectric green cross-border long-running high-level low-income fast-growing
state-run state-owned privately-held Soviet-era landlocked impoverished densely
populated drought-hit flood-hit quake-hit war-torn cash-strapped debt-laden
ambitious cautious optimistic pessimistic upbeat gloomy mixed firm soft robust
sluggish weaker stronger higher lower record-high multi-year decade-long
nationwide countrywide statewide citywide overnight midday evening morning
"""
ADVERBS = """
also still already now again later recently previously reportedly allegedly
officially publicly sharply slightly largely mostly nearly almost only just
quickly slowly immediately formally briefly repeatedly strongly firmly jointly
widely heavily partly fully initially eventually finally currently temporarily
unexpectedly independently separately directly narrowly comfortably convincingly
steadily gradually significantly
"""
VERBS = """
say announce approve reject criticise condemn welcome urge warn deny confirm report
claim accuse arrest detain release kill wound attack target hit strike seize
capture launch halt suspend resume delay postpone extend expand cut raise lower
boost cap ease tighten lift impose ban block allow sign agree discuss negotiate meet
visit host hold call demand seek ask offer promise pledge vow plan propose consider
review investigate probe examine study assess estimate forecast predict expect fear
hope blame praise defend support back oppose challenge question dismiss appoint
elect nominate name replace resign quit retire sack hire recruit train deploy
withdraw evacuate rescue flee escape return arrive leave enter cross close open
reopen build repair restore damage destroy burn collapse crash reach win lose beat
draw score lead trail defeat overtake qualify secure clinch retain record register
post rise fall climb slip jump plunge surge drop rebound recover slow grow shrink
gain lend borrow invest spend pay owe fund finance buy sell export import ship
produce supply deliver transport trade list merge acquire privatise regulate
license audit fine charge convict acquit try hear rule overturn uphold appeal file
sue protest march gather disperse clash storm raid search shell bomb shoot ambush
kidnap abduct free threaten patrol guard monitor track intercept smuggle traffic
stop plan ship grab rob step scrap rig curb spot swap admit commit control refer
transfer submit equip take give make go come see tell find keep begin break bring
put set shut send speak stand swear think throw undergo write freeze feel fight
know run drive ride choose bear blow arise forbid steal teach catch inaugurate
unveil complete finish start end stage organise coordinate mobilise brief inform
notify publish broadcast air cite quote note add stress insist argue maintain
acknowledge admit apologise thank congratulate mourn honour commemorate celebrate
mark observe attend skip boycott snub join quit form dissolve merge split divide
share distribute allocate earmark disburse approve ratify endorse veto amend draft
table pass adopt enact enforce implement introduce scrap abolish revoke restore
reinstate extradite deport expel repatriate resettle relocate displace shelter
feed vaccinate treat cure diagnose test screen inspect verify certify accredit
"""
IRREGULAR = {
    "say": ("said", "said"), "hold": ("held", "held"), "meet": ("met", "met"),
    "lead": ("led", "led"), "win": ("won", "won"), "lose": ("lost", "lost"),
    "beat": ("beat", "beaten"), "draw": ("drew", "drawn"), "rise": ("rose", "risen"),
    "fall": ("fell", "fallen"), "grow": ("grew", "grown"), "shrink": ("shrank", "shrunk"),
    "lend": ("lent", "lent"), "spend": ("spent", "spent"), "pay": ("paid", "paid"),
    "buy": ("bought", "bought"), "sell": ("sold", "sold"), "leave": ("left", "left"),
    "take": ("took", "taken"), "give": ("gave", "given"), "make": ("made", "made"),
    "go": ("went", "gone"), "come": ("came", "come"), "see": ("saw", "seen"),
    "tell": ("told", "told"), "find": ("found", "found"), "keep": ("kept", "kept"),
    "begin": ("began", "begun"), "break": ("broke", "broken"), "bring": ("brought", "brought"),
    "build": ("built", "built"), "cut": ("cut", "cut"), "hit": ("hit", "hit"),
    "put": ("put", "put"), "set": ("set", "set"), "shut": ("shut", "shut"),
    "send": ("sent", "sent"), "shoot": ("shot", "shot"), "seek": ("sought", "sought"),
    "speak": ("spoke", "spoken"), "stand": ("stood", "stood"), "strike": ("struck", "struck"),
    "swear": ("swore", "sworn"), "think": ("thought", "thought"), "throw": ("threw", "thrown"),
    "undergo": ("underwent", "undergone"), "write": ("wrote", "written"),
    "withdraw": ("withdrew", "withdrawn"), "freeze": ("froze", "frozen"),
    "flee": ("fled", "fled"), "feel": ("felt", "felt"), "fight": ("fought", "fought"),
    "forecast": ("forecast", "forecast"), "know": ("knew", "known"), "run": ("ran", "run"),
    "drive": ("drove", "driven"), "ride": ("rode", "ridden"), "choose": ("chose", "chosen"),
    "hear": ("heard", "heard"), "bear": ("bore", "borne"), "blow": ("blew", "blown"),
    "uphold": ("upheld", "upheld"), "arise": ("arose", "arisen"),
    "forbid": ("forbade", "forbidden"), "steal": ("stole", "stolen"),
    "teach": ("taught", "taught"), "catch": ("caught", "caught"), "split": ("split", "split"),
    "quit": ("quit", "quit"), "bid": ("bid", "bid"), "broadcast": ("broadcast", "broadcast"),
}  # fmt: skip
DOUBLING = frozenset(
    "stop plan ban ship drop grab rob step slip scrap rig cap jam spot swap admit commit "
    "control patrol refer transfer submit equip net top".split()
)
IRREGULAR_PLURALS = {
    "man": "men", "woman": "women", "child": "children", "crisis": "crises",
    "analysis": "analyses", "sheep": "sheep", "cattle": "cattle", "series": "series",
    "chief": "chiefs", "roof": "roofs", "wife": "wives", "life": "lives",
    "thief": "thieves", "shelf": "shelves", "hero": "heroes",
}  # fmt: skip
NOUN_COMPOUNDS = """
ceasefire-violation power-sharing cost-of-living right-wing left-wing
"""
LOANWORDS = ("communiqué", "détente", "café", "élite", "protégé", "coup d'état", "rapprochement")

SOURCES = (
    "officials", "police", "witnesses", "local media", "aid workers", "security sources",
    "residents", "hospital officials", "a spokesman", "diplomats", "analysts", "traders",
    "a government source", "state media", "two officials", "rescue workers", "tribal elders",
)  # fmt: skip
ORGS = (
    "interior ministry", "foreign ministry", "finance ministry", "central bank",
    "election commission", "disaster management authority", "health ministry",
    "meteorological department", "state news agency", "supreme court", "national assembly",
    "provincial government", "border police", "army", "counter-terrorism department",
    "customs service", "energy ministry", "education ministry", "statistics agency",
    "chamber of commerce", "emergencies ministry", "state security committee",
    "anti-corruption agency", "prosecutor general's office", "water resources ministry",
)  # fmt: skip
TITLES = (
    "President", "Prime Minister", "Foreign Minister", "Interior Minister", "Finance Minister",
    "Defence Minister", "army chief", "General", "Governor", "Chief Minister", "Senator",
    "Ambassador", "Mayor", "Deputy Prime Minister", "Speaker", "Commissioner", "police chief",
    "Chief Justice", "Colonel", "Major General", "Energy Minister", "Trade Minister",
)  # fmt: skip
ACRONYMS = """
UN IMF NATO SCO CSTO ADB GDP OPEC UNHCR WHO FIFA ICC PSL IPL CPEC TAPI SAARC ASEAN EU
US UK AFP PTI PPP BJP ISI NDS FATF IAEA WFP UNICEF OSCE CIS EAEU CEO MP LPG CNG PSX
KASE SBP RBI NGO ODI AIIB EBRD OIC UAE USAID CASA NEPRA OGRA NAB FIA CTD FC BSF CRPF NIA
IED AK GMT UTC MW GW WTO ICRC MSF OCHA IOM UNDP UNAMA NSC NSA CEC ECP GKNB SNB MVD
KNB SCO-RATS BRICS OECD IEA IRENA MSCI FTSE CNN BBC RFE VOA TOLO ARY GEO NDTV WION AIR
"""
CYRILLIC = """
заявление министерство правительство безопасность граница президент выборы новости
экономика сообщил сообщила пресс-служба ведомство оппозиция соглашение переговоры
саммит энергетика урожай паводок землетрясение футбол сборная матч погода снегопад
жара дожди цены рынок банк кредит инфляция тенге сомони сум рубль доллар экспорт
импорт газопровод электроэнергия водохранилище граждане жители власти полиция
задержаны суд приговор депутаты парламент закон реформа школа больница дорога мост
строительство инвестиции компания завод хлопок пшеница визит делегация
сотрудничество региональный официальный срочно обновлено источник агентство
корреспондент мэрия акимат хокимият ҳукумат вазорат мардум МИД ОДКБ ШОС СНГ МВД ЕАЭС
"""
CYRILLIC_OUTLETS = (
    "Азаттык", "Озодӣ", "Ведомости", "Коммерсантъ", "Известия", "Курсив", "Азия-Плюс",
    "Газета.uz", "Kun.uz", "24.kg", "Tengrinews",
)  # fmt: skip
REAL_FIRST = """
Mohammad Abdul Ahmad Amir Nur Gul Saif Rustam Bakhtiyor Dilshod Farrukh Jamshid
Alisher Timur Askar Yerlan Aibek Bolat Daniyar Imran Asif Bilawal Maryam Fatima
Shireen Zarina Dilnoza Gulnara Aziza Rashid Tariq Khalid Faisal Hamid Karim Rahim
Salim Javed Nawaz Pervez Rajnath Amit Rahul Sanjay Priya Sunita Arvind Mamata Omar
Yusuf Ibrahim Ismail Hassan Hussain Ali Bilal Usman Zafar Akbar Babur Sher Zalmay
Hamdullah Najibullah Rahmatullah Abdullah Ashraf Farid Wahid Nasir Qasim Sultan
Murat Nurlan Erlan Serik Marat Ruslan Azamat Kanat Almaz Bakyt Kubanych Temir
Ulugbek Sardor Jasur Shukhrat Rustam Farhod Parviz Firuz Davron Bahrom Sherzod
Anvar Lola Madina Nigora Saida Malika Kamila Aigerim Asel Dinara Gaukhar Zhanna
Vikram Rajesh Suresh Anil Deepak Manoj Kavita Anjali Neha Pooja Sachin Virat Rohit
Babar Shaheen Naseem Rashid Mujeeb Fazal Hasan Mehidy Shakib Litton
"""
REAL_LAST = """
Khan Sharif Ahmed Hussain Ali Malik Qureshi Chaudhry Butt Shah Rehman Siddiqui Baig
Mirza Abbasi Gilani Zardari Bhutto Singh Sharma Patel Kumar Gupta Verma Reddy Nair
Iyer Das Mukherjee Yadav Karimov Rakhimov Nazarov Saidov Tursunov Abdullayev Yusupov
Aliyev Nurmatov Sadykov Bekov Omarov Ismailov Nurlanov Zhumabayev Akhmetov
Suleimenov Kenzhebekov Popal Stanekzai Popalzai Durrani Wardak Sahak Achakzai
Barakzai Rahimi Karimi Ahmadi Hakimi Sultani Amiri Nazari Hashimi Ivanov Petrov
Smith Johnson Kohli Azam Afridi Rashidi Mahmudov Ergashev Kasymov Tashiev Atambayev
Jeenbekov Otunbayeva Nazarbayev Masimov Sagintayev Smailov Bektenov Aripov
Norov Saidakhmadov Shoigu Lavrov Wang Li Zhang Chen
"""
FOREIGN_NAMES = (
    "José Álvarez", "Gülnara Şahin", "Zoë Müller", "François Dubois", "Ayşe Yıldız",
    "Björn Søndergaard", "Renée Lefèvre", "Łukasz Wójcik", "Mária Horváth", "Çağlar Öztürk",
    "Dávid Szabó", "Inês Conceição",
)  # fmt: skip
REAL_PLACES = """
Kabul Islamabad Lahore Karachi Rawalpindi Multan Faisalabad Hyderabad Sukkur Gwadar
Turbat Mardan Swat Mingora Abbottabad Gilgit Skardu Chitral Bannu Kohat Jalalabad
Herat Kunduz Baghlan Ghazni Gardez Farah Zaranj Bamiyan Faizabad Taloqan Tashkent
Samarkand Bukhara Namangan Andijan Termez Urgench Khiva Qarshi Navoi Bishkek Karakol
Naryn Talas Tokmok Almaty Astana Shymkent Karaganda Aktobe Atyrau Aktau Pavlodar
Semey Taraz Kyzylorda Ashgabat Turkmenabat Dashoguz Balkanabat Kulob Bokhtar
Istaravshan Penjikent Delhi Mumbai Kolkata Chennai Bengaluru Ahmedabad Jaipur
Lucknow Amritsar Chandigarh Jammu Leh Dhaka Chittagong Kathmandu Colombo Thimphu
Tehran Mashhad Zahedan Kashgar Urumqi Beijing Moscow Ankara Istanbul Dubai Doha
Riyadh Washington London Geneva Brussels Vienna Tokyo Baku Tbilisi Yerevan
Türkistan Şymkent Öskemen Qızılorda Kökşetau Taldıqorğan
"""
COUNTRIES = (
    "Pakistan", "India", "Afghanistan", "Uzbekistan", "Kazakhstan", "China", "Russia",
    "Iran", "Bangladesh", "Nepal", "Sri Lanka", "Turkey", "Qatar", "Saudi Arabia",
    "the United States", "Britain", "Japan", "Azerbaijan", "Mongolia", "Türkiye",
)  # fmt: skip
CURRENCIES = (
    ("Pakistani", "rupee"), ("Indian", "rupee"), ("Afghan", "afghani"), ("Kyrgyz", "som"),
    ("Uzbek", "sum"), ("Kazakh", "tenge"), ("Tajik", "somoni"), ("Turkmen", "manat"),
    ("Bangladeshi", "taka"), ("Nepali", "rupee"), ("Sri Lankan", "rupee"),
)  # fmt: skip
COMMODITIES = (
    "wheat", "cotton", "rice", "gold", "oil", "gas", "sugar", "onion", "tomato", "flour",
    "cement", "steel", "aluminium", "uranium", "copper", "coal", "electricity", "apricot",
)  # fmt: skip
MOVES = ("rises", "falls", "slips", "climbs", "jumps", "plunges", "gains", "eases", "steadies")
PARTIES = (
    "ruling party", "opposition alliance", "PTI", "PPP", "PML-N", "BJP", "Congress party",
    "Awami League", "BNP", "Amanat party", "Ata-Meken", "Liberal Democratic Party",
    "People's Democratic Party", "Agrarian Party", "Social Democrats",
)  # fmt: skip
COMPANY_KINDS = (
    "Holdings", "Energy", "Telecom", "Cement", "Textiles", "Steel", "Airways", "Bank",
    "Motors", "Mining", "Power", "Logistics", "Pharma", "Foods", "Petroleum",
)  # fmt: skip
TEAM_NOUNS = (
    "Qalandars", "Zalmi", "United", "Kings", "Gladiators", "Sultans", "Dynamo", "Stars",
    "Strikers", "Falcons", "Lions", "Titans", "Warriors",
)  # fmt: skip
TOURNAMENTS = (
    "Asia Cup", "Champions Trophy", "Pakistan Super League", "Indian Premier League",
    "AFC Cup", "World Cup qualifier", "Asian Games", "CAFA Nations Cup", "T20 World Cup",
    "Asian Champions League", "national championship",
)  # fmt: skip
ROUNDS = ("final", "semi-final", "quarter-final", "opener", "group match", "second Test")
MARGINS = ("runs", "wickets", "goals", "points")
SPORTS = ("wrestling", "judo", "boxing", "weightlifting", "archery", "kurash", "taekwondo")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
QUARTERS = ("first quarter", "second quarter", "third quarter", "fourth quarter", "year to June")

# Syllables for synthesised South/Central Asian names.
SYLLABLES = """
ab ad af ah ak al am an ar as az ba bah bak bal bar bas bat bek bi bo bu da dal dar
daw di do dur fa far fay ga gar gaz ghu gul ha hab had ham har has hay hi ho hu ja
jab jal jam jan jar ji jo ju ka kab kad kal kam kan kar kas kaz kha khal khar khu ki
ko ku kur la lal lu ma mah mal man mar mas me mi mir mo mu mun mur na nab nad naj
nar nas naz ni no nu nur pa pak pan par qa qad qal qar qu ra rab rah ram ras raz ri
ro ru sa sab sad saf sah sal sam san sar say se sha shah shar she shi sho shu si so
su ta tab tal tam tar tash taw te ti to tu tur ul um ur us uz va wa wah wal war ya
yar yu za zab zah zal zam zar ze zi zu zul
""".split()
WATCH_PLACE_SUFFIXES = (
    "abad", "istan", "garh", "kent", "kand", "shahr", "tepa", "dara", "khel", "obod",
    "bulak", "kul", "sai", "nagar", "ar", "an", "stan", "dzhan", "kot",
)  # fmt: skip
FILLER_PLACE_SUFFIXES = ("pur", "ganj", "wala", "gaon", "pura", "mandi", "kheri", "li", "ova")
LAST_SUFFIXES = (
    "zai", "ov", "ova", "yev", "ev", "i", "ani", "zada", "ullah", "mand", "dov", "bekov",
    "iyev", "ari", "wal", "yar", "uddin", "ov", "zai",
)  # fmt: skip
FILLER_LAST_SUFFIXES = ("ia", "oglu", "walla", "pal", "ker", "nia", "jee")
FIRST_SUFFIXES = ("ullah", "uddin", "at", "id", "ir", "an", "ur", "bek", "jon", "gul", "a", "ina")
GROUP_WORDS = """
Nifaz Jihad Islami Inqilab Azadi Nusrat Ittehad Khilafat Tawheed Sipah Ansar Fidayeen
Muhajireen Shariat Tanzeem Dawat Irshad Tahaffuz Millat Mustafa Furqan Sunnat Zarb
Ummah Hijrat Ghazwa Badr Fateh Mansoor Qital Saif Hilal Nasr Huda Tabligh Difa Khatam
Amanat Istiqlal Wahdat Jabha Sarbaz Hurriyat Adalat Jamhoor Sadaqat Ikhwan Mujahid
""".split()
DIRECTIONS = ("North", "South", "East", "West", "Upper", "Lower", "Central")
PLACE_SECOND_WORDS = ("Gah", "Qala", "Bazar", "Kalay", "Kot", "Sharif", "Tepa")
PERSON_TITLES = (
    "President", "General", "Mullah", "Minister", "Commander", "Mufti", "Maulana", "Governor",
)  # fmt: skip
GROUP_CONNECTORS = frozenset({"i", "e", "ul", "ut", "al", "of", "the", "and", "ud"})
GENERIC = frozenset(
    "al el ul ud ut e i the of and islamic state province city district valley army front "
    "movement party group network liberation people's council brigade north south east "
    "west upper lower central jamaat tehrik lashkar jaish hizb harkat president general "
    "mullah minister commander mufti maulana governor katiba katibat popular brigade front "
    "taliban tehreek jaysh harakat ansar ansarul daesh is imam field marshal".split()
)

# --- real seed watchlist (about 100 aliases), kinds interleaved so any prefix is mixed --

SEED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("group", "high", ("Islamic State Khorasan Province", "ISKP", "IS-K", "ISIS-K")),
    ("region", "medium", ("Nangarhar", "Ningarhar")),
    ("person", "medium", ("Ajit Doval", "Doval", "NSA Doval")),
    ("group", "high", ("Tehrik-i-Taliban Pakistan", "TTP", "Tehreek-e-Taliban Pakistan")),
    ("region", "medium", ("Fergana Valley", "Ferghana Valley")),
    ("person", "medium", ("Emomali Rahmon", "President Rahmon", "Emomali Rahmonov")),
    ("group", "high", ("Jamaat Ansarullah",)),
    ("region", "high", ("North Waziristan", "Miranshah")),
    ("person", "medium", ("Shavkat Mirziyoyev", "Mirziyoyev")),
    ("group", "high", ("Harkat-ul-Mujahideen", "HuM")),
    ("region", "medium", ("Dushanbé",)),
    ("person", "medium", ("Kassym-Jomart Tokayev", "Tokayev", "Qasym-Jomart Toqayev")),
    ("group", "high", ("Lashkar-e-Taiba", "LeT", "Lashkar-e-Tayyiba")),
    ("region", "medium", ("Tūrkmenistan", "Turkmenia")),
    ("person", "medium", ("Sadyr Japarov", "President Japarov")),
    ("group", "high", ("Jaish-e-Mohammed", "JeM", "Jaish-e-Muhammad")),
    ("region", "medium", ("Tajikistan", "Tadzhikistan")),
    ("person", "medium", ("Serdar Berdimuhamedow", "Serdar Berdymukhamedov")),
    ("group", "high", ("Balochistan Liberation Army", "BLA")),
    ("region", "medium", ("Kyrgyzstan", "Kirghizia")),
    ("person", "high", ("Hibatullah Akhundzada", "Haibatullah Akhundzada")),
    ("group", "high", ("Islamic Movement of Uzbekistan", "IMU")),
    ("region", "high", ("South Waziristan", "Wana")),
    ("person", "high", ("Sirajuddin Haqqani",)),
    ("group", "high", ("Haqqani Network",)),
    ("region", "medium", ("Khyber Pakhtunkhwa", "KPK")),
    ("person", "medium", ("Amir Khan Muttaqi", "Muttaqi")),
    ("group", "high", ("East Turkestan Islamic Movement", "ETIM", "Turkistan Islamic Party")),
    ("region", "medium", ("Balochistan", "Baluchistan")),
    ("person", "high", ("Noor Wali Mehsud",)),
    ("group", "high", ("Lashkar-e-Jhangvi", "LeJ")),
    ("region", "medium", ("Gorno-Badakhshan", "GBAO", "Khorog")),
    ("person", "medium", ("Asim Munir", "Field Marshal Munir")),
    ("group", "high", ("Jamaat-ul-Ahrar", "JuA")),
    ("region", "medium", ("Kurram", "Parachinar")),
    ("person", "medium", ("Shehbaz Sharif", "Shahbaz Sharif")),
    ("group", "medium", ("Tehreek-e-Labbaik Pakistan", "TLP")),
    ("region", "medium", ("Bajaur",)),
    ("person", "medium", ("Narendra Modi", "Modi")),
    ("group", "medium", ("National Resistance Front", "Afghanistan Freedom Front")),
    ("region", "medium", ("Panjshir", "Panjsher")),
    ("person", "high", ("Shahab al-Muhajir", "Sanaullah Ghafari")),
    ("group", "high", ("Islamic Jihad Union", "IJU")),
    ("region", "medium", ("Badakhshan",)),
    ("person", "medium", ("Zabihullah Mujahid",)),
    ("group", "high", ("Katibat Imam al-Bukhari", "KIB")),
    ("region", "medium", ("Batken",)),
    ("person", "medium", ("Ahmad Massoud",)),
    ("group", "high", ("Hafiz Gul Bahadur group",)),
    ("region", "medium", ("Khujand", "Khodjent")),
    ("group", "high", ("Hizbul Mujahideen",)),
    ("region", "medium", ("Karakalpakstan", "Nukus")),
    ("group", "high", ("Jundallah",)),
    ("region", "medium", ("Kandahar", "Qandahar")),
    ("group", "medium", ("Afghan Taliban", "Taliban", "Islamic Emirate of Afghanistan")),
    ("region", "medium", ("Helmand", "Lashkar Gah")),
    ("group", "high", ("Balochistan Liberation Front", "BLF")),
    ("region", "medium", ("Osh", "Jalal-Abad")),
    ("region", "medium", ("Xinjiang",)),
    ("region", "medium", ("Azad Kashmir", "Pakistan-administered Kashmir", "PoK")),
    ("region", "medium", ("Khost", "Tirah Valley", "Zhob")),
)


# --- helpers ---------------------------------------------------------------------


def fold_key(text: str) -> str:
    """Case, accent and punctuation folded: the uniqueness key of an alias."""
    return re.sub(r"[^a-z0-9]", "", anyascii(text).lower())


def loose_key(word: str) -> str:
    """fold_key with doubled letters and common transliteration pairs merged (Ammir = Amir)."""
    key = fold_key(word)
    for a, b in (("ee", "i"), ("oo", "u"), ("y", "i"), ("w", "v"), ("q", "k")):
        key = key.replace(a, b)
    return re.sub(r"(.)\1+", r"\1", key)


def strip_accents(text: str) -> str:
    """Drop combining marks: Dushanbé -> Dushanbe, as copy without accents writes it."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


def is_acronym_like(alias: str) -> bool:
    """The watchlists' rule for exact, case-sensitive aliases (independent of the matcher).

    Four letters or fewer, or a capital after the first letter of a word
    (ISKP, HuM, LeT, IS-K).
    """
    text = anyascii(alias)
    letters = sum(c.isalnum() for c in text)
    return letters <= 4 or any(any(c.isupper() for c in w[1:]) for w in re.findall(r"\w+", text))


def words_of(text: str) -> int:
    return len(text.split())


class Pool:
    """Distinct words drawn with Zipfian weights: the i-th has weight 1 / i**s."""

    def __init__(self, words: Iterable[str], s: float = 1.05) -> None:
        self.words = list(dict.fromkeys(w for w in words if w))
        if not self.words:
            raise ValueError("empty pool")
        self.cum = list(accumulate(1.0 / (i**s) for i in range(1, len(self.words) + 1)))

    def __call__(self, rng: random.Random) -> str:
        return rng.choices(self.words, cum_weights=self.cum, k=1)[0]


def _verb_forms(base: str) -> dict[str, str]:
    """base, 3rd person singular, past, past participle and -ing form of a verb."""
    vowel = "aeiou"
    if base.endswith(("s", "sh", "ch", "x", "z", "o")):
        third = base + "es"
    elif base.endswith("y") and base[-2] not in vowel:
        third = base[:-1] + "ies"
    else:
        third = base + "s"
    if base in DOUBLING:
        past = base + base[-1] + "ed"
        ing = base + base[-1] + "ing"
    elif base.endswith("e"):
        past = base + "d"
        ing = base[:-1] + "ing" if not base.endswith(("ee", "ye", "oe")) else base + "ing"
    elif base.endswith("y") and base[-2] not in vowel:
        past = base[:-1] + "ied"
        ing = base + "ing"
    else:
        past = base + "ed"
        ing = base + "ing"
    if base.endswith("ie"):
        ing = base[:-2] + "ying"
    past, participle = IRREGULAR.get(base, (past, past))
    return {"base": base, "third": third, "past": past, "participle": participle, "ing": ing}


def _plural(noun: str) -> str:
    if noun in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[noun]
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _synth(rng: random.Random, syllables: int, suffixes: Sequence[str], p_suffix: float) -> str:
    while True:
        stem = "".join(rng.choice(SYLLABLES) for _ in range(syllables))
        if syllables == 1 or rng.random() < p_suffix:
            suffix = rng.choice(suffixes)
            stem += suffix if stem[-1] != suffix[0] else suffix[1:]
        if 4 <= len(stem) <= 14 and not re.search(r"(.)\1\1|[aeiou]{3}", stem):
            return stem.capitalize()


def synth_place(rng: random.Random, suffixes: Sequence[str] = WATCH_PLACE_SUFFIXES) -> str:
    return _synth(rng, rng.choice((1, 2, 2, 3)), suffixes, 0.55)


def synth_last(rng: random.Random, suffixes: Sequence[str] = LAST_SUFFIXES) -> str:
    return _synth(rng, rng.choice((1, 2, 2)), suffixes, 0.85)


def synth_first(rng: random.Random) -> str:
    return _synth(rng, rng.choice((1, 2)), FIRST_SUFFIXES, 0.7)


def _number(rng: random.Random) -> str:
    return str(max(2, round(math.exp(rng.uniform(0.7, 6.2)))))


# --- the news vocabulary ---------------------------------------------------------------


class Vocabulary:
    """Word pools of the news text, synthesised parts drawn from the seeded rng."""

    def __init__(self, rng: random.Random, watched: set[str]) -> None:
        def keep(words: Iterable[str]) -> list[str]:
            # Never a word that is, on its own, an alias of the seed watchlist.
            return [w for w in words if fold_key(w) not in watched]

        verbs = [_verb_forms(v) for v in dict.fromkeys(VERBS.split())]
        nouns = list(dict.fromkeys(NOUNS.split() + NOUN_COMPOUNDS.split()))
        self.noun = Pool(nouns)
        self.nouns = Pool(_plural(n) for n in nouns)
        self.mass = Pool(MASS_NOUNS.split())
        self.adj = Pool(ADJECTIVES.split())
        self.adv = Pool(ADVERBS.split())
        self.verb = {form: Pool(v[form] for v in verbs) for form in verbs[0]}
        places = keep(REAL_PLACES.split())
        places += keep(synth_place(rng, FILLER_PLACE_SUFFIXES) for _ in range(350))
        self.place = Pool(places)
        self.country = Pool(COUNTRIES)
        self.first = Pool(keep(REAL_FIRST.split()) + keep(synth_first(rng) for _ in range(150)))
        lasts = keep(REAL_LAST.split())
        lasts += keep(synth_last(rng, FILLER_LAST_SUFFIXES) for _ in range(300))
        self.last = Pool(lasts)
        self.acronym = Pool(ACRONYMS.split())
        self.cyrillic = Pool(CYRILLIC.split())
        self.slots: dict[str, Callable[[random.Random], str]] = {
            "N": self.noun,
            "Ns": self.nouns,
            "M": self.mass,
            "A": self.adj,
            "ADV": self.adv,
            "Vb": self.verb["base"],
            "Vz": self.verb["third"],
            "V": self.verb["past"],
            "Vpp": self.verb["participle"],
            "Vg": self.verb["ing"],
            "PL": self.place,
            "CTRY": self.country,
            "P": self.person,
            "S": self.last,
            "T": lambda r: r.choice(TITLES),
            "ORG": lambda r: r.choice(ORGS),
            "ACR": self.acronym,
            "SRC": lambda r: r.choice(SOURCES),
            "PARTY": lambda r: r.choice(PARTIES),
            "COMPANY": self.company,
            "TEAM": lambda r: f"{self.place(r)} {r.choice(TEAM_NOUNS)}",
            "TOURNAMENT": lambda r: r.choice(TOURNAMENTS),
            "ROUND": lambda r: r.choice(ROUNDS),
            "MARGIN": lambda r: r.choice(MARGINS),
            "SPORT": lambda r: r.choice(SPORTS),
            "CURRENCY": lambda r: " ".join(r.choice(CURRENCIES)),
            "COMMODITY": lambda r: r.choice(COMMODITIES),
            "MOVE": lambda r: r.choice(MOVES),
            "QUARTER": lambda r: r.choice(QUARTERS),
            "LOAN": lambda r: r.choice(LOANWORDS),
            "CYP": self.cyrillic_phrase,
            "CYO": lambda r: r.choice(CYRILLIC_OUTLETS),
            "n": _number,
            "n2": _number,
            "d": lambda r: str(r.randint(2, 5)),
            "pct": lambda r: f"{r.uniform(0.1, 14.0):.1f}%",
            "price": lambda r: f"{r.uniform(10.0, 480.0):.2f}",
            "temp": lambda r: f"{r.choice((-1, 1)) * r.randint(24, 51)} degrees Celsius",
            "mag": lambda r: f"{r.uniform(4.0, 7.4):.1f}",
            "year": lambda r: str(r.randint(1991, 2024)),
            "day": lambda r: r.choice(WEEKDAYS),
            "month": lambda r: r.choice(MONTHS),
        }

    def person(self, rng: random.Random) -> str:
        if rng.random() < 0.04:
            return rng.choice(FOREIGN_NAMES)
        if rng.random() < 0.15:
            return f"{self.first(rng)} {self.first(rng)} {self.last(rng)}"
        return f"{self.first(rng)} {self.last(rng)}"

    def company(self, rng: random.Random) -> str:
        stem = self.place(rng) if rng.random() < 0.5 else self.last(rng)
        return f"{stem} {rng.choice(COMPANY_KINDS)}"

    def cyrillic_phrase(self, rng: random.Random) -> str:
        words = [self.cyrillic(rng) for _ in range(rng.randint(3, 7))]
        return " ".join(words).capitalize()

    def all_words(self) -> set[str]:
        """Folded words the news text can contain, and their loose keys: aliases avoid them."""
        out: set[str] = set()
        pools = [self.noun, self.nouns, self.mass, self.adj, self.adv, self.place, self.first]
        pools += [self.last, self.acronym, self.cyrillic, *self.verb.values()]
        for pool in pools:
            for w in pool.words:
                out.update(fold_key(p) for p in re.split(r"[\s-]+", w))
        literal = (
            TEMPLATE_TEXT, COUNTRIES, CURRENCIES, COMMODITIES, PARTIES, COMPANY_KINDS,
            TEAM_NOUNS, TOURNAMENTS, ROUNDS, SOURCES, ORGS, TITLES, FOREIGN_NAMES, SPORTS,
            MONTHS, WEEKDAYS, MOVES, QUARTERS, LOANWORDS, CYRILLIC_OUTLETS, MARGINS,
        )  # fmt: skip
        for text in _flatten(literal):
            out.update(fold_key(w) for w in re.findall(r"[^\W_]+", re.sub(r"\{\w+\}", " ", text)))
        out.discard("")
        return out | {loose_key(w) for w in out}


def _flatten(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _flatten(v)
    elif isinstance(value, Iterable):
        for v in value:
            yield from _flatten(v)


# --- news templates -------------------------------------------------------------------
# {E}, {E_POSS} and {E_ADJ} mark where a watched entity is mentioned (plain,
# possessive, hyphen-joined); the other slots are filled from the vocabulary.

TOPIC_WEIGHTS = {"security": 34, "politics": 25, "business": 19, "sport": 12, "weather": 10}
TITLES_BY_TOPIC = {
    "security": (
        "{n} killed as roadside bomb hits {A} convoy in {PL}, {SRC} say",
        "Security forces {V} {n} suspected militants in overnight raid near {PL}",
        "Gunmen attack checkpoint in {PL} district, killing {n} {Ns}",
        "Police in {PL} arrest {n} over {A} attack on {N} office",
        "{T} {P} vows {A} response after {PL} bombing kills {n}",
        "Curfew lifted in {PL} after {n} days of {A} clashes",
        "Drone strike near {PL} border kills {n}, {ORG} says",
        "Death toll from {PL} attack rises to {n} as {Ns} {Vb} for survivors",
        "{ACR} {Vz} inquiry into {A} {N} at {PL} prison",
        "Militants free {n} hostages in {PL} after {A} talks, {SRC} say",
        "{A} {N} {Vz} {n} {Ns} in {PL} as {M} spreads",
    ),
    "politics": (
        "{T} {P} {Vz} {A} {N} ahead of {month} elections",
        "{PARTY} {Vz} {N} as parliament debates {A} {N} bill",
        "{CTRY} and {CTRY} sign {n} agreements on {M} and {M}",
        "Opposition leader {P} {V} in {PL} over {A} {N} protest",
        "{ACR} summit in {PL} {Vz} {A} {N} for {CTRY}",
        "Court in {PL} {Vz} {T} {S}'s appeal over {N}",
        "{CTRY} {Vz} envoy after {A} remarks on {M}",
        "Election commission {Vz} results in {n} constituencies of {PL}",
        "{T} {P} {Vz} {A} {LOAN} with {CTRY} during {PL} visit",
    ),
    "business": (
        "{CURRENCY} {MOVE} {pct} against dollar as {M} {Vz}",
        "{COMPANY} {Vz} {A} {N} plan worth ${n} million in {PL}",
        "{ACR} approves ${n} million loan for {CTRY} {N} project",
        "{COMMODITY} prices {MOVE} {pct} in {PL} as {A} demand {Vz}",
        "{CTRY} inflation {MOVE} to {pct} in {month}, central bank says",
        "{PL} stock exchange {MOVE} {pct} on {A} {N} hopes",
        "{COMPANY} to build {A} {N} plant near {PL}, hiring {n} workers",
        "{COMPANY} {QUARTER} profit {MOVE} {pct} on {A} {M} sales",
    ),
    "sport": (
        "{TEAM} beat {TEAM} by {n} {MARGIN} in {TOURNAMENT} {ROUND}",
        "{P} {Vz} {A} century as {CTRY} {Vb} {CTRY} in {PL} Test",
        "{CTRY} name {n}-member squad for {TOURNAMENT} in {PL}",
        "{P} wins gold in {SPORT} at {TOURNAMENT} in {PL}",
        "Coach {S} {Vz} {A} {N} after {n}-{d} defeat in {PL}",
        "Rain {Vz} play on day {d} of {PL} Test against {CTRY}",
    ),
    "weather": (
        "Floods {V} {n} villages in {PL} as {A} rains {Vb} on",
        "Heatwave pushes temperatures to {temp} in {PL}; schools {V}",
        "Earthquake of magnitude {mag} {Vz} {PL}, {n} homes damaged",
        "Avalanche {Vz} highway near {PL}, {n} travellers stranded",
        "{A} smog {Vz} {PL} as air quality index tops {n}",
        "Drought {Vz} {COMMODITY} harvest in {PL}, farmers warn",
        "Met office {Vz} {A} snowfall for {PL} and {PL} on {day}",
    ),
}
TITLE_TAILS = ("on {day}", "- {SRC}", "amid {A} {M}", "after {n}-hour talks", "in {month}")
HEADLINE_PREFIXES = ("UPDATE {d}-", "EXCLUSIVE-", "BREAKING: ", "ANALYSIS-", "FACTBOX-")
SENTENCES_BY_TOPIC = {
    "security": (
        "A {A} device planted on a motorcycle went off as a police vehicle passed, {SRC} said.",
        "The {ACR} said {n} attackers were killed in an exchange of fire that lasted {d} hours.",
        "Security has been tightened at {n} checkpoints on the highway linking {PL} and {PL}.",
        "Hospital officials in {PL} said {n} of the wounded were in {A} condition.",
        "The {N} comes amid a rise in attacks on {Ns} in the border districts since {year}.",
        "Counter-terrorism police said the suspects had been {Vpp} to a {A} network in {PL}.",
        "No group immediately claimed responsibility for the {N}.",
    ),
    "politics": (
        "The {PARTY} won {n} of the {n2} seats, according to preliminary results.",
        "{T} {P} {V} the {A} {N} in a speech broadcast on state television.",
        "Parliament is due to vote on the {N} bill on {day}, the speaker's office said.",
        "Both sides agreed to {Vb} a joint commission on {M} and {M}, the statement said.",
        "The opposition {PARTY} called the {N} a {A} attempt to {Vb} the {N}.",
        "A joint {LOAN} issued after the talks {V} {A} {M} and {M}.",
    ),
    "business": (
        "The {CURRENCY} traded at {price} per dollar on {day}, against {price} a week earlier.",
        "{COMPANY} said revenue rose {pct} to ${n} million in the {QUARTER}.",
        "The {ACR} expects growth of {pct} this year, down from {pct} in {year}.",
        "The project, financed by the {ACR}, is due to be completed by {year}.",
        "Exports of {COMMODITY} to {CTRY} {V} {pct} in the first {d} months of the year.",
        "Traders in {PL} said {A} {M} had {Vpp} {ADV} since {month}.",
    ),
    "sport": (
        "{P} scored {n} off {n2} balls as {CTRY} reached {n} for {d}.",
        "The {TOURNAMENT} final will be played in {PL} on {day}.",
        "{S} said the team had {Vpp} {ADV} in the {A} conditions.",
        "A crowd of {n},000 watched the match at the {PL} stadium.",
        "{P}, {n2}, has {Vpp} {n} goals in {n2} matches for {TEAM} this season.",
    ),
    "weather": (
        "The meteorological department forecast {A} rain and snow in {PL} over {d} days.",
        "Temperatures fell to {temp} overnight, the coldest in {n} years.",
        "Rescue teams used {Ns} to reach villages cut off by the {N}.",
        "More than {n} houses were damaged and {n2} livestock killed, the agency said.",
        "Schools in {PL} will remain closed until {day} because of the {A} {M}.",
    ),
}
GENERAL_SENTENCES = (
    "{T} {P} told reporters in {PL} on {day} that the {N} would be {Vpp} by {month}.",
    "The {ORG} said in a statement that {n} {Ns} had been {Vpp} since {month}.",
    "{SRC} said the {A} {N} was {Vpp} after {n} days of {A} {M}.",
    "Local media reported that {n} {Ns} were {Vpp} in the {A} {N} near {PL}.",
    "The {ACR} has {Vpp} the {N}, saying it {Vz} the {A} {M} of {CTRY}.",
    "Officials in {PL} did not respond to requests for comment on {day}.",
    "Analysts say the {A} {N} could {Vb} {A} {M} across the region.",
    "About {n} people {V} outside the {N} in {PL}, chanting slogans against the {N}.",
    "The {N} is expected to {Vb} {A} {M} over the coming {Ns}, {SRC} said.",
    "{S}, who {V} the {N} in {year}, has {ADV} {Vpp} the {A} {N}.",
    "The figures could not be independently verified.",
    "In {year}, a similar {N} in {PL} {V} {n} {Ns} and {V} the {A} {N}.",
    "Prices of {COMMODITY} {V} {pct} in {PL} markets, traders said.",
    "{T} {S} {ADV} {V} the {A} {Ns} of the {ORG}.",
    "The {ORG} {Vz} {A} {Ns} and {Vz} the {N} of {M} in {PL}.",
)
CYRILLIC_SENTENCES = (
    "Russian-language outlet {CYO} quoted {T} {S} as saying: «{CYP}».",
    'A post on the {CYO} channel read "{CYP}", according to a translation.',
    "The ministry statement, headlined «{CYP}», gave no further details.",
)
SIGN_OFFS = ("(Reporting by {P} in {PL}; editing by {P})", "({SRC}; writing by {P})")

KINDS = ("group", "region", "person")
KIND_WEIGHTS = (40, 32, 28)
FORMS = ("plain", "possessive", "hyphen")
FORM_WEIGHTS = (60, 20, 20)
FORM_SLOT = {"plain": "{E}", "possessive": "{E_POSS}", "hyphen": "{E_ADJ}"}
HYPHEN_SUFFIXES = {
    "group": ("linked", "backed", "affiliated", "aligned", "inspired", "allied"),
    "region": ("based", "born", "bound"),
    "person": ("led", "backed", "appointed"),
}
ENTITY_TITLES = {
    "group": (
        "{E} claims responsibility for {A} attack on {N} in {PL}",
        "Security forces kill {n} {E} fighters in {PL} raid, {SRC} say",
        "{CTRY} bans {E} after {n} arrested over {PL} bombing",
        "{E} threatens {A} attacks ahead of {month} vote in {PL}",
        "Officials blame {E} for {PL} blast that killed {n}",
        "{E_POSS} commander among {n} killed in {PL} operation",
        "{E_POSS} new chief named in {PL}, {SRC} say",
        "Analysts see {E_POSS} reach growing in {PL} after {A} {N}",
        "{E_ADJ} militants ambush convoy near {PL}, killing {n}",
        "Police detain {n} {E_ADJ} suspects in {PL} raids",
        "{n} {E_ADJ} fighters surrender to authorities in {PL}",
    ),
    "region": (
        "Floods displace {n} families in {E} as rivers burst their banks",
        "Curfew imposed in {E} after {n} killed in {A} clashes",
        "{T} {P} visits {E} to review {A} {N} projects",
        "Power cuts hit {E} for {n} hours amid {A} {M}",
        "Gunmen kill {n} {Ns} in {E}, {SRC} say",
        "{E_POSS} governor orders inquiry into {A} {N}",
        "{E_POSS} farmers count losses after {A} frost",
        "Militancy returns to {E_POSS} border towns, {SRC} say",
        "{E_ADJ} traders protest over {N} at {PL} crossing",
        "{E_ADJ} journalist {V} after reporting on {A} {N}",
        "{n} {E_ADJ} students return home from {PL}",
    ),
    "person": (
        "{E} meets {CTRY} envoy on {M} and {M}",
        "{E} to visit {PL} for talks on {A} {M}",
        "{E} {Vz} {A} {N} in speech to parliament",
        "Protesters in {PL} demand resignation of {E}",
        "{E} calls for {A} cooperation after {n} attacks this year",
        "{E_POSS} {N} plan faces {A} opposition in {PL}",
        "{E_POSS} visit to {PL} postponed over {A} {N}",
        "Critics question {E_POSS} handling of {A} {N}",
        "{E_ADJ} government {Vz} {A} {N} for {PL}",
        "{E_ADJ} delegation arrives in {PL} for {n}-day visit",
        "{E_ADJ} commission {Vz} report on {A} {N}",
    ),
}
ENTITY_SENTENCES = {
    "group": (
        "Police said {E} had claimed responsibility in a statement posted online.",
        "The {ORG} has blamed {E} for at least {n} attacks since {month}.",
        "{E_POSS} fighters have been active in {PL} since {year}, {SRC} said.",
        "{E_POSS} spokesman denied any role in the {N}.",
        "Investigators said the {Ns} belonged to an {E_ADJ} cell in {PL}.",
        "At least {n} {E_ADJ} militants were among those detained, {SRC} said.",
    ),
    "region": (
        "The incident took place in {E}, where security has been tightened for weeks.",
        "Roads linking {E} and {PL} were closed for {d} days, {SRC} said.",
        "{E_POSS} administration said {n} families had been moved to {A} camps.",
        "Much of {E_POSS} {M} comes from {COMMODITY} farming and remittances.",
        "An {E_ADJ} aid group said it had reached {n} households by {day}.",
        "The {E_ADJ} lawmaker said the {N} had been {Vpp} for years.",
    ),
    "person": (
        "{E} was briefed on the situation late on {day}, a statement said.",
        "{E} said the {A} {N} would be {Vpp} by {month}.",
        "{E_POSS} office said the {N} was a priority for {CTRY}.",
        "A spokesman for {E_POSS} party declined to comment.",
        "The {E_ADJ} team held {d} rounds of talks in {PL}.",
        "The {E_ADJ} commission is due to report by {month}.",
    ),
}
TEMPLATE_TEXT = (
    TITLES_BY_TOPIC, TITLE_TAILS, HEADLINE_PREFIXES, SENTENCES_BY_TOPIC, GENERAL_SENTENCES,
    CYRILLIC_SENTENCES, SIGN_OFFS, ENTITY_TITLES, ENTITY_SENTENCES,
)  # fmt: skip

_SLOT = re.compile(r"\{(\w+)\}")
_AN = re.compile(r"\b([Aa]) ([aeiouAEIOU])")  # "a economic" -> "an economic"
MARK = "\x00"  # around the index of a planted mention in a draft


@dataclass(slots=True)
class Draft:
    """An item with placeholders where the watchlist under test will be mentioned."""

    topic: str
    title: str
    summary: str
    slots: list[tuple[str, str, str]]  # (kind, form, field) per placeholder


@dataclass(frozen=True, slots=True)
class Planted:
    entity_id: str
    alias: str
    written: str
    form: str  # plain | possessive | hyphen
    misspelt: bool
    field: str


@dataclass(frozen=True, slots=True)
class NewsItem:
    title: str
    summary: str
    planted: tuple[Planted, ...]


class NewsWriter:
    def __init__(self, vocab: Vocabulary, rng: random.Random) -> None:
        self.vocab = vocab
        self.rng = rng

    def fill(self, template: str, slots: list[tuple[str, str, str]] | None = None,
             kind: str = "", fld: str = "") -> str:  # fmt: skip
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("E"):
                assert slots is not None
                form = {"E": "plain", "E_POSS": "possessive", "E_ADJ": "hyphen"}[name]
                slots.append((kind, form, fld))
                return f"{MARK}{len(slots) - 1}{MARK}"
            return self.vocab.slots[name](self.rng)

        return _AN.sub(r"\1n \2", _SLOT.sub(sub, template))

    def title(self, topic: str, slots: list[tuple[str, str, str]], kind: str | None) -> str:
        rng = self.rng
        for _ in range(50):
            mark = len(slots)
            if kind:
                form = rng.choices(FORMS, FORM_WEIGHTS)[0]
                options = [t for t in ENTITY_TITLES[kind] if FORM_SLOT[form] in t]
                text = self.fill(rng.choice(options), slots, kind, "title")
            else:
                text = self.fill(rng.choice(TITLES_BY_TOPIC[topic]))
            while words_of(text) < 8:
                text += " " + self.fill(rng.choice(TITLE_TAILS))
            if words_of(text) <= 14:
                break
            del slots[mark:]
        if rng.random() < 0.05:
            text = self.fill(rng.choice(HEADLINE_PREFIXES)) + text
        return text[0].upper() + text[1:] if text[0] != MARK else text

    def summary(self, topic: str, slots: list[tuple[str, str, str]], kinds: list[str]) -> str:
        rng = self.rng
        must = []
        for kind in kinds:
            form = rng.choices(FORMS, FORM_WEIGHTS)[0]
            options = [t for t in ENTITY_SENTENCES[kind] if FORM_SLOT[form] in t]
            must.append(self.fill(rng.choice(options), slots, kind, "summary"))
        extra = []
        if rng.random() < 0.07:
            extra.append(self.fill(rng.choice(CYRILLIC_SENTENCES)))
        target = rng.randint(30, 60)
        body: list[str] = []
        count = sum(words_of(s) for s in must + extra)
        for _ in range(40):
            if count >= target:
                break
            pool = SENTENCES_BY_TOPIC[topic] if rng.random() < 0.55 else GENERAL_SENTENCES
            sentence = self.fill(rng.choice(pool))
            if count + words_of(sentence) > 60 and count >= 30:
                break
            if count + words_of(sentence) <= 60:
                body.append(sentence)
                count += words_of(sentence)
        sentences = body[:1] + must + body[1:]
        if extra:
            sentences.insert(rng.randint(1, len(sentences)), extra[0])
        if rng.random() < 0.1 and count <= 50:
            sentences.append(self.fill(rng.choice(SIGN_OFFS)))
        text = " ".join(sentences)
        return text[0].upper() + text[1:] if text and text[0] != MARK else text

    def draft(self) -> Draft:
        rng = self.rng
        topic = rng.choices(list(TOPIC_WEIGHTS), list(TOPIC_WEIGHTS.values()))[0]
        slots: list[tuple[str, str, str]] = []
        kinds: list[str] = []
        if rng.random() < PLANTED_SHARE:
            kinds = rng.choices(KINDS, KIND_WEIGHTS, k=2 if rng.random() < 0.25 else 1)
        title_kind = kinds[0] if kinds and rng.random() < 0.6 else None
        title = self.title(topic, slots, title_kind)
        summary = self.summary(topic, slots, kinds[1:] if title_kind else kinds)
        return Draft(topic, title, summary, slots)


def make_drafts(seed: int, count: int) -> tuple[list[Draft], Vocabulary]:
    rng = random.Random(seed)
    watched = {fold_key(a) for _, _, aliases in SEED for a in aliases}
    vocab = Vocabulary(rng, watched)
    writer = NewsWriter(vocab, rng)
    return [writer.draft() for _ in range(count)], vocab


# --- spelling variation ----------------------------------------------------------------

_VOWEL_SWAPS = {"a": "ae", "e": "ia", "i": "ey", "o": "ua", "u": "oa", "y": "i"}
_TRANSLIT_SWAPS = (
    ("oo", "u"), ("u", "oo"), ("ee", "i"), ("i", "ee"), ("kh", "q"), ("q", "kh"),
    ("j", "dzh"), ("y", "i"), ("ov", "ev"), ("yev", "iev"), ("w", "v"), ("v", "w"),
    ("a", "e"), ("ai", "ay"), ("ay", "ai"), ("dh", "d"), ("gh", "g"), ("z", "s"),
)  # fmt: skip
_ACCENTS = {"a": "áā", "e": "éē", "i": "íī", "o": "óöō", "u": "úüū"}


def _pick_word(words: list[str], min_letters: int) -> int | None:
    options = [
        i
        for i, w in enumerate(words)
        if sum(c.isalpha() for c in w) >= min_letters and w.lower() not in GENERIC
    ]
    return max(options, key=lambda i: len(words[i])) if options else None


def misspell(rng: random.Random, text: str) -> str | None:
    """One letter different, as a careless or other-transliteration spelling would be."""
    words = text.split(" ")
    i = _pick_word(words, 6)
    if i is None:
        return None
    w = words[i]
    inner = [k for k in range(1, len(w)) if w[k].isalpha() and w[k - 1].isalpha()]
    for _ in range(10):
        k = rng.choice(inner)
        op = rng.choice(("vowel", "delete", "double", "transpose"))
        low = w[k].lower()
        if op == "vowel" and low in _VOWEL_SWAPS:
            new = w[:k] + rng.choice(_VOWEL_SWAPS[low]) + w[k + 1 :]
        elif op == "delete":
            new = w[:k] + w[k + 1 :]
        elif op == "double" and low not in "aeiou":
            new = w[:k] + w[k] + w[k:]
        elif op == "transpose" and k + 1 < len(w) and w[k + 1].isalpha():
            new = w[:k] + w[k + 1] + w[k] + w[k + 2 :]
        else:
            continue
        if new.lower() != w.lower():
            words[i] = new
            return " ".join(words)
    return None


def variant(rng: random.Random, text: str) -> str | None:
    """Another transliteration of the name: Tehrik/Tehreek, Kunar/Konar, -ov/-ev."""
    words = text.split(" ")
    i = _pick_word(words, 5)
    if i is None:
        return None
    w = words[i]
    for _ in range(12):
        a, b = rng.choice(_TRANSLIT_SWAPS)
        spots = [m.start() for m in re.finditer(re.escape(a), w) if m.start() > 0]
        if spots:
            k = rng.choice(spots)
            words[i] = w[:k] + b + w[k + len(a) :]
            return " ".join(words)
    return None


def accent(rng: random.Random, text: str) -> str:
    """One vowel of a name word (not its first letter) with a diacritic: Dushanbé, Tūrkmenistan."""
    words = text.split(" ")
    i = _pick_word(words, 4)
    if i is None:
        return text
    w = words[i]
    spots = [k for k in range(1, len(w)) if w[k] in _ACCENTS and w[k - 1].isalpha()]
    if spots:
        k = rng.choice(spots)
        words[i] = w[:k] + rng.choice(_ACCENTS[w[k]]) + w[k + 1 :]
    return " ".join(words)


# --- watchlists ---------------------------------------------------------------------------


def _acronym(name: str, mixed: bool) -> str:
    parts = [p for p in re.split(r"[\s-]+", anyascii(name)) if p]
    out = ""
    for p in parts:
        if p.lower() in GROUP_CONNECTORS:
            if mixed:
                out += p[0].lower()
        else:
            out += p[0].upper()
    return out


class WatchlistMaker:
    """Synthesises entities until the watchlist has exactly `size` aliases."""

    def __init__(self, rng: random.Random, blocked: set[str]) -> None:
        self.rng = rng
        self.blocked = blocked
        self.taken: set[str] = set()

    def _ok(self, alias: str) -> bool:
        key = fold_key(alias)
        if len(key) < 2 or key in self.taken:
            return False
        if " " not in alias.strip() and any(
            fold_key(p) in self.blocked or loose_key(p) in self.blocked for p in alias.split("-")
        ):
            return False
        return key not in self.blocked

    def _take(self, candidates: Iterable[str | None], k: int) -> list[str]:
        out: list[str] = []
        for alias in candidates:
            if alias is None or len(out) >= k or not self._ok(alias):
                continue
            if not is_acronym_like(alias) and self.rng.random() < 0.08:
                alias = accent(self.rng, alias)  # same key: replaces the plain spelling
            self.taken.add(fold_key(alias))
            out.append(alias)
        return out

    def region(self, k: int) -> list[str]:
        rng = self.rng
        p = synth_place(rng)
        r = rng.random()
        if r < 0.45:
            name = p
        elif r < 0.60:
            name = f"{rng.choice(DIRECTIONS)} {p}"
        elif r < 0.70:
            name = f"{p} Valley"
        elif r < 0.77:
            name = f"{p}-{_synth(rng, 1, WATCH_PLACE_SUFFIXES, 1.0)}"
        elif r < 0.82:
            name = f"{p}-i-{synth_place(rng)}"
        elif r < 0.92:
            name = f"{p} {rng.choice(PLACE_SECOND_WORDS)}"
        else:
            name = f"{p} City"
        extra = [variant(rng, name), variant(rng, name)]
        if name.endswith(" City"):
            extra.append(p)
        elif not name.endswith(" Valley"):
            extra += [f"{name} Province", f"{name} District"]
        if name == p:
            extra.append(f"{p} City")
        rng.shuffle(extra)
        return self._take([name, *extra], k)

    def person(self, k: int) -> list[str]:
        rng = self.rng
        real = REAL_FIRST.split()
        first = rng.choice(real) if rng.random() < 0.7 else synth_first(rng)
        if rng.random() < 0.06:
            first = f"{first}-{synth_first(rng)}"  # Kassym-Jomart
        last = synth_last(rng)
        middle = rng.choice([*real, "Khan", "Ali", "Wali", "Gul"]) if rng.random() < 0.3 else ""
        name = f"{first} {middle} {last}" if middle else f"{first} {last}"
        extra = [
            f"{first} {last}" if middle else None,
            f"{rng.choice(PERSON_TITLES)} {last}",
            variant(rng, name),
            last if len(last) >= 7 and rng.random() < 0.5 else None,
            f"{variant(rng, first) or first} {last}",
            f"{rng.choice(PERSON_TITLES)} {first} {last}",
        ]
        rng.shuffle(extra)
        return self._take([name, *extra], k)

    def group(self, k: int) -> list[str]:
        rng = self.rng

        def word() -> str:
            if rng.random() < 0.5:
                return rng.choice(GROUP_WORDS)
            return _synth(rng, 2, ("at", "een", "iya", "ullah", "an", "i"), 1.0)

        place = synth_place(rng)
        w, w2 = word(), word()
        patterns: list[tuple[str, list[str | None]]] = [
            (f"Tehrik-i-{w} {place}", [f"Tehreek-e-{w} {place}", f"{w} {place} Movement"]),
            (f"Islamic State {place} Province", [f"IS {place}", f"Daesh {place}"]),
            (f"Jamaat {w}", [f"Jamaat-ul-{w}", f"Jamaat {w} {place}"]),
            (f"{place} Liberation Army", [f"{place} Liberation Front", f"{place} Army"]),
            (f"Islamic Movement of {place}", [f"{place} Islamic Movement"]),
            (f"Lashkar-e-{w}", [f"Lashkar-i-{w}", f"Lashkar-e-{variant(rng, w) or w}"]),
            (f"Jaish-e-{w}", [f"Jaish al-{w}", f"Jaysh-e-{w}"]),
            (f"Harkat-ul-{w}", [f"Harakat-ul-{w}", f"Harkat ul-{w} al-{w2}"]),
            (f"{place} People's Front", [f"{place} Popular Front", f"{place} Front"]),
            (f"Ansar al-{w}", [f"Ansarul {w}", f"Ansar al-{w} {place}"]),
            (f"{w} {w2} Movement", [f"{w}-{w2} Movement", f"Harakat {w} {w2}"]),
            (f"Katibat {w} al-{w2}", [f"Katiba {w}", f"{w} Brigade"]),
            (f"{place} Taliban", [f"Tehrik-i-Taliban {place}"]),
        ]
        name, others = rng.choice(patterns)
        candidates: list[str | None] = [name, *others, variant(rng, name)]
        acronym = _acronym(name, mixed=rng.random() < 0.35 and "-" in name)
        if sum(c.isupper() for c in acronym) >= 2 and len(acronym) <= 5:
            candidates.insert(rng.randint(1, 2), acronym)
        return self._take(candidates, k)


def make_watchlist(seed: int, size: int, blocked: set[str]) -> list[Entity]:
    """Exactly `size` aliases (name included): the seed list first, then synthetic entities."""
    rng = random.Random(f"{seed}-watchlist-{size}")
    maker = WatchlistMaker(rng, blocked)
    entities: list[Entity] = []
    total = 0
    for kind, severity, aliases in SEED:
        if total >= size:
            break
        kept = list(aliases[: size - total])
        maker.taken.update(fold_key(a) for a in aliases)
        entities.append(_entity(f"seed_{fold_key(kept[0])}", kind, kept, severity))
        total += len(kept)
    n = 0
    while total < size:
        kind = rng.choices(KINDS, (30, 35, 35))[0]
        k = min(rng.choices((1, 2, 3, 4, 5), (20, 30, 25, 15, 10))[0], size - total)
        aliases = getattr(maker, kind)(k)
        if not aliases:
            continue
        n += 1
        severity = rng.choice(("low", "medium", "medium", "high"))
        entities.append(_entity(f"{kind}_{n:05d}", kind, aliases, severity))
        total += len(aliases)
    assert sum(len(e.all_aliases) for e in entities) == size
    return entities


def _entity(id_: str, kind: str, aliases: list[str], severity: str) -> Entity:
    return Entity(id=id_, name=aliases[0], kind=kind, aliases=tuple(aliases[1:]), severity=severity)


def plant(drafts: list[Draft], entities: list[Entity], seed: int, size: int) -> list[NewsItem]:
    """Fill each draft's placeholders with mentions of entities of the watchlist under test."""
    rng = random.Random(f"{seed}-plant-{size}")
    by_kind: dict[str, list[Entity]] = {kind: [] for kind in KINDS}
    for e in entities:
        by_kind.setdefault(e.kind, []).append(e)
    items = []
    for d in drafts:
        title, summary = d.title, d.summary
        planted: list[Planted] = []
        used: set[str] = set()
        for index, (kind, form, fld) in enumerate(d.slots):
            pool = [e for e in by_kind.get(kind) or entities if e.id not in used] or entities
            entity = rng.choice(pool)
            used.add(entity.id)
            alias = rng.choice(entity.all_aliases)
            written = alias
            if not written.isascii() and rng.random() < 0.5:
                written = strip_accents(written)
            misspelt = False
            if not is_acronym_like(alias) and rng.random() < MISSPELL_SHARE:
                changed = misspell(rng, written)
                if changed is not None:
                    written, misspelt = changed, True
            if form == "possessive":
                written += rng.choice(("'s", "'s", "’s"))
            elif form == "hyphen":
                written += "-" + rng.choice(HYPHEN_SUFFIXES[kind])
            marker = f"{MARK}{index}{MARK}"
            title, summary = title.replace(marker, written), summary.replace(marker, written)
            planted.append(Planted(entity.id, alias, written, form, misspelt, fld))
        items.append(NewsItem(title, summary, tuple(planted)))
    return items


# --- corpus statistics ------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def corpus_stats(items: list[NewsItem]) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    accented = cyrillic = acronym = 0
    for it in items:
        text = f"{it.title} {it.summary}"
        counts.update(w.lower() for w in _TOKEN.findall(text))
        accented += any(c.isalpha() and not c.isascii() and "LATIN" in unicodedata.name(c, "")
                        for c in text)  # fmt: skip
        cyrillic += bool(re.search("[\u0400-\u04ff]", text))
        acronym += bool(re.search(r"\b[A-Z]{2,6}\b", text))
    freqs = sorted(counts.values(), reverse=True)
    top = freqs[: min(len(freqs), 1000)]
    xs = [math.log(r) for r in range(1, len(top) + 1)]
    ys = [math.log(f) for f in top]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    n = len(items)
    return {
        "items": n,
        "words": sum(freqs),
        "distinct_words": len(freqs),
        "hapax": sum(1 for f in freqs if f == 1),
        "zipf_exponent": round(-slope, 2),
        "title_words_mean": round(statistics.fmean(words_of(it.title) for it in items), 1),
        "summary_words_mean": round(statistics.fmean(words_of(it.summary) for it in items), 1),
        "title_words_range": [
            min(words_of(it.title) for it in items),
            max(words_of(it.title) for it in items),
        ],
        "summary_words_range": [
            min(words_of(it.summary) for it in items),
            max(words_of(it.summary) for it in items),
        ],
        "accented_share": round(accented / n, 3),
        "cyrillic_share": round(cyrillic / n, 3),
        "acronym_share": round(acronym / n, 3),
        "planted_share": round(sum(1 for it in items if it.planted) / n, 3),
        "top_words": [w for w, _ in counts.most_common(12)],
    }


# --- measurement --------------------------------------------------------------------------


def rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@dataclass
class Row:
    aliases: int
    entities: int
    build_s: float
    build_target_met: bool
    tracemalloc_peak_mib: float
    tracemalloc_retained_mib: float
    rss_delta_mib: float | None
    items_timed: int
    match_s: float
    items_per_s: float
    throughput_target_met: bool
    latency_us_p50: float
    latency_us_p99: float
    latency_us_max: float
    matches: int
    items_matched: int
    planted_items: int
    planted_mentions: int
    planted_found: int
    planted_found_by_form: dict[str, list[int]] = field(default_factory=dict)
    unplanted_items_matched: int = 0


def measure(args: argparse.Namespace, size: int, entities: list[Entity],
            items: list[NewsItem]) -> tuple[Row, Matcher, list[list[Any]]]:  # fmt: skip
    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    matcher = Matcher(entities, threshold=args.threshold)
    build_s = time.perf_counter() - t0
    rss1 = rss_bytes()

    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    twin = Matcher(entities, threshold=args.threshold)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del twin
    gc.collect()

    timed = items if args.limit is None else items[: args.limit]
    for it in items[:WARMUP_ITEMS]:
        matcher.match_text(it.title, it.summary)
    results: list[list[Any]] = []
    latencies: list[float] = []
    clock = time.perf_counter
    start = clock()
    for it in timed:
        t = clock()
        results.append(matcher.match_text(it.title, it.summary))
        latencies.append(clock() - t)
    match_s = clock() - start

    by_form: dict[str, list[int]] = {f: [0, 0] for f in (*FORMS, "misspelt", "accent-stripped")}
    found = mentions = unplanted = 0
    for it, res in zip(timed, results, strict=True):
        ids = {m.entity_id for m in res}
        if res and not it.planted:
            unplanted += 1
        for p in it.planted:
            hit = p.entity_id in ids
            mentions += 1
            found += hit
            keys = [p.form] + (["misspelt"] if p.misspelt else [])
            if not p.alias.isascii() and p.written.isascii():
                keys.append("accent-stripped")
            for key in keys:
                by_form[key][0] += hit
                by_form[key][1] += 1
    latencies.sort()
    rate = len(timed) / match_s if match_s else float("inf")
    row = Row(
        aliases=size,
        entities=len(entities),
        build_s=build_s,
        build_target_met=build_s <= TARGET_BUILD_S,
        tracemalloc_peak_mib=(peak - base) / MIB,
        tracemalloc_retained_mib=(current - base) / MIB,
        rss_delta_mib=None if rss0 is None or rss1 is None else (rss1 - rss0) / MIB,
        items_timed=len(timed),
        match_s=match_s,
        items_per_s=rate,
        throughput_target_met=rate >= TARGET_ITEMS_PER_S,
        latency_us_p50=1e6 * latencies[len(latencies) // 2],
        latency_us_p99=1e6 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        latency_us_max=1e6 * latencies[-1],
        matches=sum(len(r) for r in results),
        items_matched=sum(1 for r in results if r),
        planted_items=sum(1 for it in timed if it.planted),
        planted_mentions=mentions,
        planted_found=found,
        planted_found_by_form=by_form,
        unplanted_items_matched=unplanted,
    )
    return row, matcher, results


# --- brute-force reference ------------------------------------------------------------------


def brute_norm(text: str) -> str:
    t = anyascii(unicodedata.normalize("NFKC", text))
    t = re.sub(r"'s\b", "", t)
    t = re.sub(r"['`]", "", t)
    t = re.sub(r"[^A-Za-z0-9]+", " ", t).lower().strip()
    return f" {t} "


def brute_force(args: argparse.Namespace, entities: list[Entity], items: list[NewsItem],
                matcher: Matcher) -> dict[str, Any]:  # fmt: skip
    rng = random.Random(f"{args.seed}-brute")
    sample = sorted(rng.sample(range(len(items)), min(BRUTE_SAMPLE, len(items))))
    exact: list[tuple[str, str, re.Pattern[str]]] = []
    fuzzy: list[tuple[str, str, str]] = []
    for e in entities:
        for alias in e.all_aliases:
            if is_acronym_like(alias):
                pattern = re.compile(
                    rf"(?<![A-Za-z0-9]){re.escape(anyascii(alias))}(?![A-Za-z0-9])"
                )
                exact.append((e.id, alias, pattern))
            else:
                fuzzy.append((e.id, alias, brute_norm(alias)))
    started = time.perf_counter()
    reference: dict[tuple[int, str], tuple[str, str]] = {}
    for i in sample:
        it = items[i]
        for text in (it.title, it.summary):
            ascii_text, normed = anyascii(text), brute_norm(text)
            for eid, alias, pattern in exact:
                if (i, eid) not in reference and pattern.search(ascii_text):
                    reference[(i, eid)] = (alias, text)
            for eid, alias, na in fuzzy:
                if (i, eid) in reference:
                    continue
                if fuzz.partial_ratio(na, normed, score_cutoff=BRUTE_CUTOFF):
                    reference[(i, eid)] = (alias, text)
    brute_s = time.perf_counter() - started
    found: set[tuple[int, str]] = set()
    for i in sample:
        found.update((i, m.entity_id) for m in matcher.match_text(items[i].title, items[i].summary))
    both = found & reference.keys()
    missed = sorted(reference.keys() - found)
    examples = []
    for i, eid in missed[:8]:
        alias, text = reference[(i, eid)]
        window = ""
        if not is_acronym_like(alias):
            a = fuzz.partial_ratio_alignment(brute_norm(alias), brute_norm(text))
            if a is not None:
                window = brute_norm(text)[a.dest_start : a.dest_end].strip()
        examples.append({"item": i, "entity": eid, "alias": alias, "text": window or alias})
    return {
        "aliases": sum(len(e.all_aliases) for e in entities),
        "sample_items": len(sample),
        "cutoff": BRUTE_CUTOFF,
        "brute_seconds": round(brute_s, 2),
        "reference_pairs": len(reference),
        "matcher_pairs": len(found),
        "matcher_found_of_reference": len(both),
        "recall": round(len(both) / len(reference), 4) if reference else None,
        "matcher_only_pairs": len(found - reference.keys()),
        "missed_examples": examples,
    }


# --- output -----------------------------------------------------------------------------


def _met(ok: bool) -> str:
    return "target met" if ok else "target missed"


def render(result: dict[str, Any]) -> str:
    cfg, corpus = result["config"], result["corpus"]
    timed = "all items timed" if cfg["limit"] is None else f"first {cfg['limit']:,} timed"
    lines = [
        f"Matcher speed: {cfg['items']:,} items, seed {cfg['seed']}, threshold "
        f"{cfg['threshold']:g} (fuzzy on), warm-up {cfg['warmup']} items, {timed}",
        f"Python {cfg['python']}, rapidfuzz {cfg['rapidfuzz']}, {cfg['platform']}",
        "",
        f"Corpus (as planted for {cfg['sizes'][0]:,} aliases): {corpus['words']:,} words, "
        f"{corpus['distinct_words']:,} distinct "
        f"({corpus['hapax']:,} seen once), Zipf exponent {corpus['zipf_exponent']} "
        f"(ranks 1-1000);",
        f"        title words {corpus['title_words_mean']} mean "
        f"({corpus['title_words_range'][0]}-{corpus['title_words_range'][1]}), summary "
        f"{corpus['summary_words_mean']} ({corpus['summary_words_range'][0]}-"
        f"{corpus['summary_words_range'][1]})",
        f"        items with accents {corpus['accented_share']:.0%}, Cyrillic "
        f"{corpus['cyrillic_share']:.0%}, an ALL-CAPS acronym {corpus['acronym_share']:.0%}, "
        f"a planted mention {corpus['planted_share']:.1%}",
        "",
        f"Index build (target <= {TARGET_BUILD_S:g} s)",
        f"{'aliases':>8} {'entities':>8} {'build s':>8}  {'':13}  {'peak MiB':>9} "
        f"{'held MiB':>9} {'RSS +MiB':>9}",
    ]
    for r in result["rows"]:
        rss = "n/a" if r["rss_delta_mib"] is None else f"{r['rss_delta_mib']:.1f}"
        lines.append(
            f"{r['aliases']:>8,} {r['entities']:>8,} {r['build_s']:>8.3f}  "
            f"{_met(r['build_target_met']):13}  {r['tracemalloc_peak_mib']:>9.1f} "
            f"{r['tracemalloc_retained_mib']:>9.1f} {rss:>9}"
        )
    lines += [
        "  peak/held: tracemalloc during/after a second build; RSS: process growth in the first",
        "",
        f"Matching, one process, one thread (target >= {TARGET_ITEMS_PER_S:,.0f} items/s, "
        f"set at {TARGET_AT_ALIASES:,} aliases)",
        f"{'aliases':>8} {'items':>6} {'items/s':>8}  {'':13}  {'p50 us':>7} {'p99 us':>7} "
        f"{'max us':>8} {'matches':>8} {'items>=1':>8} {'planted':>13} {'other>=1':>8}",
    ]
    for r in result["rows"]:
        planted = f"{r['planted_found']}/{r['planted_mentions']}"
        lines.append(
            f"{r['aliases']:>8,} {r['items_timed']:>6,} {r['items_per_s']:>8,.0f}  "
            f"{_met(r['throughput_target_met']):13}  {r['latency_us_p50']:>7.0f} "
            f"{r['latency_us_p99']:>7.0f} {r['latency_us_max']:>8.0f} {r['matches']:>8,} "
            f"{r['items_matched']:>8,} {planted:>13} {r['unplanted_items_matched']:>8,}"
        )
    lines += [
        "  planted: planted mentions whose entity was matched / planted mentions;",
        "  other>=1: items without a planted mention that matched something",
        "",
        "Planted mentions found, by form (misspelt and accent-stripped overlap the first three)",
    ]
    if result["rows"]:
        forms = result["rows"][0]["planted_found_by_form"]
        lines.append(f"{'aliases':>8} " + " ".join(f"{k:>16}" for k in forms))
    for r in result["rows"]:
        cells = []
        for found, total in r["planted_found_by_form"].values():
            share = f"{found / total:.0%}" if total else "-"
            cells.append(f"{f'{found}/{total} {share}':>16}")
        lines.append(f"{r['aliases']:>8,} " + " ".join(cells))
    b = result.get("brute")
    if b:
        recall = "n/a" if b["recall"] is None else f"{b['recall']:.1%}"
        lines += [
            "",
            f"Brute-force reference ({b['aliases']:,} aliases, {b['sample_items']} items, "
            f"partial_ratio >= {b['cutoff']:g} + exact acronyms, {b['brute_seconds']} s)",
            f"  reference pairs {b['reference_pairs']}, matcher found "
            f"{b['matcher_found_of_reference']} of them: recall {recall}; "
            f"matcher-only pairs {b['matcher_only_pairs']}",
        ]
        for ex in b["missed_examples"]:
            lines.append(
                f"  missed: item {ex['item']} {ex['entity']} alias {ex['alias']!r} ~ {ex['text']!r}"
            )
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--items", type=int, default=5_000, help="news items to generate (5000)")
    p.add_argument(
        "--sizes",
        type=parse_sizes,
        default=[100, 1_000, 10_000],
        help="watchlist sizes in aliases, comma-separated (100,1000,10000)",
    )
    p.add_argument("--seed", type=int, default=7, help="random seed (7)")
    p.add_argument("--threshold", type=float, default=90.0, help="Matcher threshold (90)")
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="time only the first N items per size (default: all); for slow matchers",
    )
    p.add_argument(
        "--brute",
        action="store_true",
        help=f"recall against a brute-force reference at {BRUTE_SIZE:,} aliases, "
        f"{BRUTE_SAMPLE} items",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    if args.items < 1 or (args.limit is not None and args.limit < 1):
        p.error("--items and --limit must be positive")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    drafts, vocab = make_drafts(args.seed, args.items)
    blocked = vocab.all_words()
    rows: list[dict[str, Any]] = []
    corpus: dict[str, Any] | None = None
    brute: dict[str, Any] | None = None
    for size in args.sizes:
        entities = make_watchlist(args.seed, size, blocked)
        items = plant(drafts, entities, args.seed, size)
        if corpus is None:
            corpus = corpus_stats(items)
        row, matcher, _ = measure(args, size, entities, items)
        rows.append(asdict(row))
        print(
            f"[{size:,} aliases: build {row.build_s:.2f} s, {row.items_per_s:,.0f} items/s]",
            file=sys.stderr,
        )
        if args.brute and size == BRUTE_SIZE:
            brute = brute_force(args, entities, items, matcher)
        del matcher
    if args.brute and brute is None:
        entities = make_watchlist(args.seed, BRUTE_SIZE, blocked)
        items = plant(drafts, entities, args.seed, BRUTE_SIZE)
        brute = brute_force(args, entities, items, Matcher(entities, threshold=args.threshold))
    return {
        "config": {
            "items": args.items,
            "sizes": args.sizes,
            "seed": args.seed,
            "threshold": args.threshold,
            "warmup": min(WARMUP_ITEMS, args.items),
            "limit": args.limit,
            "python": platform.python_version(),
            "rapidfuzz": rapidfuzz.__version__,
            "platform": f"{platform.system()} {platform.machine()}",
        },
        "targets": {
            "items_per_s": TARGET_ITEMS_PER_S,
            "at_aliases": TARGET_AT_ALIASES,
            "build_s": TARGET_BUILD_S,
        },
        "corpus": corpus,
        "rows": rows,
        "brute": brute,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
