"""The most frequent words of English news copy.

A text word on this list never anchors a fuzzy match, and no alias word on
it is used as an anchor: "said" is one letter from "Saidi" and the same
skeleton as "Sayid", and would otherwise make every item a fuzzy candidate.
"""

from __future__ import annotations

COMMON_WORDS = frozenset(
    """
    a about above according across act action added after again against age ago ahead
    aid air all allow almost along already also although always am amid among an and
    another any are area areas around arrested as asked at attack attacks authorities
    away back bank based be became because become been before began being believe
    below best better between big bill border both brought business but by call called
    came campaign can capital case cases cause central change chief children city
    claim claimed claims clear close come coming committee company condition conflict
    control could council countries country court crisis cut day days dead deal death
    decision defence defense department despite did died do does done down due during
    each early east economic economy either election end enough even ever every
    expected face fact family far few fighting final financial fire first five follow
    following for force forces foreign form former four free from full further future
    gave general get give given go going good got government group groups growth had
    half hand has have having he head health held help her here high him his history
    home hospital house how however human if important in including increase
    information inside interior international into is issue it its itself job just
    keep key killed killing know known land large last late later law lead leader
    leaders least left less life like line little local long look lost made main major
    make making man many march may me meeting member members men military million
    minister ministry more most move much must my name nation national near nearly
    need never new news next night no north not now number of off office officer
    officers official officials often oil on once one only open operation or order
    other others our out over own part parliament parties party past pay peace people
    per percent period place plan police policy political power president press prime
    process program programme public put rather reached read ready real received
    recent region regional release report reported reports republic right rights rule
    run said same saw say saying says second security see seen sent service set
    several she should show side since six small so social some south spokesman state
    statement states still strike strikes such support take taken talks team than that
    the their them then there these they third this those though thousands three
    through time times to today together told too top toward towards trade troops
    two under union until up upon us use used very violence visit want war was water
    way we week weeks well went were west what when where whether which while who
    whole whose why will with within without women work world would year years yet you
    """.split()
)

# Given names that are also everyday words, in English or in the languages the
# watchlists cover (Arabic, Persian, Turkic, Russian as written in English copy):
# "said", "will", "mark", "hope", "rose", "grace", "bill", "sami" (Finnish/Sami),
# "sunny", "amir" (commander), "iman" (faith), "nur"/"noor" (light). Picked by
# hand from names seen in watchlists; a lower-case one in prose is never the name.
NAME_WORDS = frozenset(
    """
    said will mark hope rose grace bill sami sunny faith joy may june april august
    rich frank earnest ernest victor hunter summer dawn sky amber ruby pearl iris
    lily daisy ivy holly penny crystal destiny patience prudence honor honour
    guy jack pat rob sue art dean drew gene ray miles chase wade lance grant
    glen don sonny rusty amir emir iman nur noor aman amal salam sultan
    """.split()
)
