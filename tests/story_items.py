"""Feed items about a few distinct events, for story and flood tests on every platform.

Kunduz A/B and the follow-up are one story told by three feeds; the others are
events of their own that share a watched entity with it.
"""

from __future__ import annotations

from tests.feedserver import item

KUNDUZ_A = item(
    "a1",
    "Suicide bomber kills 12 at Kunduz mosque; ISKP claims attack",
    "A suicide bomber struck a Shia mosque in Kunduz city during Friday prayers, killing "
    "12 worshippers, police said. Islamic State Khorasan claimed responsibility.",
)
KUNDUZ_B = item(
    "b1",
    "ISKP claims Kunduz mosque bombing that killed 12",
    "The Islamic State Khorasan Province said one of its fighters carried out the suicide "
    "attack on the mosque in Kunduz that killed 12 people at Friday prayers.",
)
DUSHANBE = item(
    "b2",
    "Tajikistan arrests suspected ISKP recruiter in Dushanbe",
    "Security services in Tajikistan detained a man accused of recruiting for ISKP online, "
    "the interior ministry said.",
)
KUNDUZ_FOLLOW_UP = item(
    "c1",
    "Kunduz mosque attack death toll rises to 15",
    "Three more worshippers wounded in the suicide bombing of a Kunduz mosque claimed by "
    "ISKP died in hospital, raising the toll to 15, health officials said.",
)


DOVAL = item(
    "d1",
    "Ajit Doval meets Tajik security chief on border cooperation",
    "India's National Security Adviser Ajit Doval held talks with the head of Tajikistan's "
    "security council in New Delhi on counter-terrorism and border management.",
)
BORDER = item(
    "e1",
    "Tajikistan closes Panj river crossing after shooting",
    "Border guards in Tajikistan shut the crossing at Panji Poyon after an exchange of fire "
    "with smugglers on the Afghan side, officials said.",
)
FLOODS = item(
    "f1",
    "Floods in southern Tajikistan force thousands from their homes",
    "Heavy rain swelled rivers in the Khatlon region of Tajikistan, the emergencies "
    "committee said, and about 3,000 people were moved to temporary shelters.",
)
DOVAL_MOSCOW = item(
    "g1",
    "Ajit Doval in Moscow for annual security consultations",
    "National Security Adviser Ajit Doval arrived in Moscow for talks with Russian "
    "officials on regional security and defence supplies.",
)
