"""A synthetic but realistic catalog feed for demos, tests and benchmarks.

``generate_feed(courses, seed)`` yields feed records (the JSON Lines format of
``store.catalog.feed``), the same ones for the same arguments; the first N records do not
depend on how many are asked for. It has 120 invented publishers, titles drawn from topic
vocabularies (a few with ``&``, quotes, ``<``, umlauts and Japanese), mostly English with
Spanish, French, German and Japanese courses, Volume prices of 10 to 200 dollars with higher
Pay Per Use prices, about 60% Plus courses, the subscription-only "TED@Work" bundle with about
2% of the courses, a few ordinary bundles, and a few retiring courses with replacements.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from store.catalog.feed import parse_records
from store.catalog.service import ImportReport, import_feed

SUBSCRIPTION_ONLY_BUNDLE = "TED@Work"
TED_PUBLISHER = "TED Talks at Work"

_PUBLISHER_FIRST = (
    "Northwind", "Bluewater", "Keystone", "Summit", "Brightpath", "Ironwood", "Clearview",
    "Harborline", "Redwood", "Silverleaf", "Crescent", "Evergreen", "Lighthouse", "Meridian",
    "Oakridge", "Pinnacle", "Riverbend", "Stonebridge", "Trailhead", "Westbrook", "Aspen",
    "Beacon", "Copperfield", "Driftwood", "Falcon", "Granite",
)
_PUBLISHER_SECOND = (
    "Learning", "Academy", "Training Co.", "Press", "Institute", "eLearning", "Skills",
    "Compliance Group", "Media", "Knowledge Works",
)
_SPECIAL_PUBLISHERS = (
    "Müller & Söhne Akademie",
    "Éditions Savoir-Faire",
    "Aprende Más Formación",
    "まなびラボ出版",
    "O'Brien & Partners",
    "SafeWork <Pro>",
    "Kowalski Szkolenia",
    "Nordisk Læring",
)
PUBLISHER_COUNT = 120

_TOPICS: dict[str, dict[str, tuple[str, ...]]] = {
    "compliance": {
        "subjects": (
            "Anti-Bribery and Corruption", "Anti-Money Laundering", "Data Protection",
            "GDPR", "Code of Conduct", "Conflicts of Interest", "Export Controls",
            "Insider Trading", "Whistleblowing", "Records Management", "Sanctions Screening",
        ),
        "tags": ("compliance", "ethics", "regulation", "risk"),
    },
    "workplace safety": {
        "subjects": (
            "Fire Safety", "Manual Handling", "Working at Height", "Ladder Safety",
            "Hazard Communication", "Lockout/Tagout", "Slips, Trips and Falls",
            "Ergonomics", "Forklift Operation", "First Aid", "Electrical Safety",
            "Confined Spaces", "Personal Protective Equipment",
        ),
        "tags": ("safety", "health and safety", "osha", "wellbeing"),
    },
    "leadership": {
        "subjects": (
            "Leadership", "Coaching Conversations", "Delegation", "Giving Feedback",
            "Leading Remote Teams", "Change Management", "Strategic Thinking",
            "Decision Making", "Building Trust", "Emotional Intelligence",
        ),
        "tags": ("leadership", "management", "soft skills"),
    },
    "software": {
        "subjects": (
            "Excel", "Spreadsheet Formulas", "Python Programming", "SQL Queries",
            "Cloud Security", "Cybersecurity Awareness", "Phishing Awareness",
            "Agile and Scrum", "Project Management Software", "Data Visualization",
            "Password Hygiene", "Git Version Control",
        ),
        "tags": ("software", "it", "security", "productivity"),
    },
    "human resources": {
        "subjects": (
            "Harassment Prevention", "Diversity and Inclusion", "Unconscious Bias",
            "Interviewing Skills", "Onboarding", "Performance Reviews", "Workplace Civility",
            "Employee Relations", "Payroll Basics",
        ),
        "tags": ("hr", "inclusion", "people"),
    },
    "finance": {
        "subjects": (
            "Budgeting", "Financial Statements", "Accounts Payable", "Expense Policies",
            "Forecasting", "Procurement", "Fraud Awareness", "Revenue Recognition",
        ),
        "tags": ("finance", "accounting"),
    },
    "communication": {
        "subjects": (
            "Business Writing", "Presentation Skills", "Negotiation", "Active Listening",
            "Difficult Conversations", "Customer Service", "Time Management",
        ),
        "tags": ("communication", "soft skills", "customer service"),
    },
}
_TITLE_PATTERNS = (
    "{s} Essentials",
    "Introduction to {s}",
    "{s}: The Basics",
    "Advanced {s}",
    "{s} for Managers",
    "{s} for Employees",
    "{s} in Practice",
    "Mastering {s}",
    "{s} Refresher",
    "{s} for Supervisors",
    "Understanding {s}",
    "{s}: A Practical Guide",
)
_EDITIONS = ("", "", "", "", " (2025 Edition)", " (2026 Edition)", " - US", " - UK", " - EU")
_INDUSTRIES = (
    "", "", "", "", "", " in Healthcare", " in Manufacturing", " in Retail", " in Construction",
    " in Hospitality", " in Financial Services", " in the Public Sector",
)
# Titles that stress escaping and tokenising: &, quotes, <, umlauts, accents, Japanese.
_SPECIAL_TITLES = (
    ("en", "Health & Safety: The \"Why\" Behind the Rules", "workplace safety"),
    ("en", "Excel Formulas: <IF>, VLOOKUP & XLOOKUP", "software"),
    ("en", "Don't Click That! Phishing & Social Engineering", "software"),
    ("en", "Profit & Loss for Non-Financial Managers", "finance"),
    ("en", "\"Speak Up\": Building a Culture of Candor", "leadership"),
    ("en", "Heights > 2 m: Fall Protection < Basics", "workplace safety"),
    ("de", "Arbeitsschutz für Führungskräfte", "workplace safety"),
    ("de", "Datenschutz-Grundverordnung (DSGVO): Überblick", "compliance"),
    ("de", "Gesprächsführung & Konfliktlösung", "communication"),
    ("ja", "情報セキュリティ基礎", "software"),
    ("ja", "ハラスメント防止研修", "human resources"),
    ("ja", "職場の安全衛生入門", "workplace safety"),
    ("fr", "Prévention des risques psychosociaux", "workplace safety"),
    ("fr", "Éthique & conformité en entreprise", "compliance"),
    ("es", "Liderazgo para nuevos gerentes", "leadership"),
    ("es", "Prevención del acoso laboral", "human resources"),
)
_FOREIGN_TITLES: dict[str, tuple[tuple[str, str], ...]] = {
    "es": (
        ("Seguridad contra incendios", "workplace safety"), ("Protección de datos", "compliance"),
        ("Liderazgo de equipos", "leadership"), ("Atención al cliente", "communication"),
        ("Ciberseguridad básica", "software"), ("Presupuestos y finanzas", "finance"),
    ),
    "fr": (
        ("Sécurité incendie", "workplace safety"), ("Protection des données", "compliance"),
        ("Management d'équipe", "leadership"), ("Relation client", "communication"),
        ("Cybersécurité au quotidien", "software"), ("Lutte contre le harcèlement", "human resources"),
    ),
    "de": (
        ("Brandschutz am Arbeitsplatz", "workplace safety"), ("Datenschutz im Büro", "compliance"),
        ("Mitarbeiterführung", "leadership"), ("Kundenservice", "communication"),
        ("IT-Sicherheit für Mitarbeitende", "software"), ("Gleichbehandlung und Vielfalt", "human resources"),
    ),
    "ja": (
        ("防火安全", "workplace safety"), ("個人情報保護", "compliance"), ("リーダーシップ", "leadership"),
        ("顧客対応", "communication"), ("サイバーセキュリティ", "software"), ("予算管理", "finance"),
    ),
}
_FOREIGN_SUFFIX = {
    "es": ("", ": fundamentos", ": nivel avanzado", " para mandos intermedios"),
    "fr": ("", " : les fondamentaux", " : niveau avancé", " pour les managers"),
    "de": ("", ": Grundlagen", ": Aufbaukurs", " – Kompaktkurs"),
    "ja": ("", " 入門", " 基礎編", " 管理職向け"),
}
_DESCRIPTION_OPENERS = (
    "This course gives {audience} a clear, practical grounding in {s_lower}.",
    "Learn how {s_lower} applies to your daily work, with short scenarios and a final quiz.",
    "A focused module on {s_lower} built around real workplace situations.",
    "Designed for {audience}, this course explains the key ideas of {s_lower} step by step.",
)
_DESCRIPTION_CLOSERS = (
    "Includes a downloadable checklist.",
    "Meets common {tag} training requirements.",
    "Learners practise with interactive case studies.",
    "Ends with a 10-question assessment and a certificate of completion.",
    "Covers {tag} expectations for regulated industries.",
)
_FOREIGN_DESCRIPTIONS = {
    "es": "Curso práctico sobre {s}, con casos reales del trabajo diario y una evaluación final.",
    "fr": "Un module pratique sur {s}, avec des mises en situation et un quiz final.",
    "de": "Praxisnaher Kurs zum Thema {s} mit Fallbeispielen aus dem Arbeitsalltag und Abschlusstest.",
    "ja": "{s}について、職場の事例を交えて分かりやすく学びます。修了テスト付き。",
}
_AUDIENCES = ("new employees", "managers", "front-line staff", "team leads", "all staff", "supervisors")
_DURATIONS = (10, 15, 20, 25, 30, 45, 60, 90, 120, 180, 240)
_DURATION_WEIGHTS = (6, 10, 10, 6, 16, 14, 14, 9, 7, 5, 3)
_LANGUAGES = ("en", "es", "fr", "de", "ja")
_LANGUAGE_WEIGHTS = (80, 6, 5, 5, 4)
_REGULAR_BUNDLES = ("Compliance Essentials Pack", "New Manager Toolkit", "Safety Starter Kit")


def demo_publishers(seed: int = 7) -> list[str]:
    """The demo's 120 publisher names, the same for a seed."""
    rng = random.Random(f"publishers:{seed}")
    combos = [f"{a} {b}" for a in _PUBLISHER_FIRST for b in _PUBLISHER_SECOND]
    rng.shuffle(combos)
    names = list(_SPECIAL_PUBLISHERS) + combos[: PUBLISHER_COUNT - len(_SPECIAL_PUBLISHERS) - 1]
    names.append(TED_PUBLISHER)
    return names


def _special_title_index(n: int) -> int | None:
    if n % 17 == 5 and n // 17 < len(_SPECIAL_TITLES):
        return n // 17
    if n % 997 == 0:
        return (n // 997) % len(_SPECIAL_TITLES)
    return None


def generate_feed(courses: int = 300, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Yield ``courses`` feed records, deterministic for ``seed``."""
    rng = random.Random(seed)
    publishers = demo_publishers(seed)
    regular_publishers = publishers[:-1]
    areas = list(_TOPICS)
    retiring_every = 97  # about 1% retiring, each with an earlier active course as replacement
    active_ids: list[str] = []
    for n in range(1, courses + 1):
        catalog_id = f"CRS-{n:06d}"
        roll = rng.random()
        language = rng.choices(_LANGUAGES, _LANGUAGE_WEIGHTS)[0]
        is_ted = roll < 0.02
        # Every awkward title early on (so small catalogs have them all), then now and then.
        special_index = _special_title_index(n)
        if is_ted:
            area = rng.choice(areas)
            subject = rng.choice(_TOPICS[area]["subjects"])
            title = f"TED@Work: Ideas on {subject}"
            language = "en"
            publisher = TED_PUBLISHER
        elif special_index is not None:
            language, title, area = _SPECIAL_TITLES[special_index]
            subject = title if language != "en" else rng.choice(_TOPICS[area]["subjects"])
            publisher = rng.choice(regular_publishers)
        elif language != "en":
            base, area = rng.choice(_FOREIGN_TITLES[language])
            subject = base
            title = base + rng.choice(_FOREIGN_SUFFIX[language])
            publisher = rng.choice(regular_publishers)
        else:
            area = rng.choice(areas)
            subject = rng.choice(_TOPICS[area]["subjects"])
            title = (
                rng.choice(_TITLE_PATTERNS).format(s=subject)
                + rng.choice(_INDUSTRIES)
                + rng.choice(_EDITIONS)
            )
            publisher = rng.choice(regular_publishers)

        tags = _TOPICS[area]["tags"]
        topics = [area, *rng.sample(tags, k=min(len(tags), rng.randint(1, 2)))]
        if language == "en":
            description = " ".join(
                (
                    rng.choice(_DESCRIPTION_OPENERS).format(
                        audience=rng.choice(_AUDIENCES), s_lower=subject.lower()
                    ),
                    rng.choice(_DESCRIPTION_CLOSERS).format(tag=rng.choice(tags)),
                )
            )
        else:
            # Spanish and French write the subject in lower case mid-sentence; German keeps nouns.
            named = subject[:1].lower() + subject[1:] if language in ("es", "fr") else subject
            description = _FOREIGN_DESCRIPTIONS[language].format(s=named)
        volume = rng.randrange(1_100, 20_001, 100) - rng.choice((0, 0, 1))
        ppu = int(volume * rng.uniform(1.2, 2.0)) // 100 * 100 + 99
        record: dict[str, Any] = {
            "id": catalog_id,
            "title": title,
            "publisher": publisher,
            "description": description,
            "language": language,
            "duration_minutes": rng.choices(_DURATIONS, _DURATION_WEIGHTS)[0],
            "topics": list(dict.fromkeys(topics)),
            "volume_price_cents": volume,
            "ppu_price_cents": ppu,
            "plus": is_ted or rng.random() < 0.6,
        }
        if is_ted:
            record["bundle"] = SUBSCRIPTION_ONLY_BUNDLE
            record["bundle_subscription_only"] = True
        elif rng.random() < 0.05:
            record["bundle"] = rng.choice(_REGULAR_BUNDLES)
            record["bundle_subscription_only"] = False
        if n % retiring_every == 0 and active_ids:
            record["status"] = "retiring"
            record["replacement_id"] = rng.choice(active_ids[-50:])
        else:
            active_ids.append(catalog_id)
        yield record


def import_demo_catalog(
    sessions: sessionmaker[Session],
    courses: int,
    seed: int,
    now: datetime,
    *,
    full: bool = False,
) -> ImportReport:
    """Load the demo catalog through the real import (one transaction). By default a delta
    import, so courses that are not part of the demo stay as they are; ``full=True`` retires
    every other course."""
    return import_feed(sessions, parse_records(generate_feed(courses, seed)), full=full, now=now)
