"""The demo company, Stadtwerke Nordlicht, loaded through the actions as users would."""

from __future__ import annotations

from server.actions.accounts import create_user
from server.actions.community import accept_answer, mark_helpful
from server.actions.customers import note_customer, tag_customer
from server.actions.idea_status import set_status
from server.actions.ideas import submit_idea, vote
from server.actions.knowledge import create_article
from server.actions.messages import send_message
from server.actions.moderation import flag
from server.actions.reads import mark_read
from server.actions.spaces import create_space, join_space
from server.actions.teams import create_team
from server.actions.threads import start_thread, update_thread
from server.ideas import idea_threads
from server.models import Audience, Role, Team, User
from server.people import user_by_email
from server.publisher import Publisher
from server.queries import message_by_client_id, thread_by_id
from server.settings import Settings

DEMO_COMPANY = "Stadtwerke Nordlicht"
DEMO_PASSWORD = "nordlicht-demo"  # noqa: S105 - printed on purpose: it is the demo's sign-in

PEOPLE = [
    # key, e-mail, name, role, team
    ("admin", "admin@nordlicht.example", "Sabine Admin", Role.ADMIN, "IT"),
    ("jan", "jan@nordlicht.example", "Jan Petersen", Role.EMPLOYEE, "Field service"),
    ("mira", "mira@nordlicht.example", "Mira Yilmaz", Role.EMPLOYEE, "Billing"),
    ("grid", "ole@nordlicht.example", "Ole Hansen", Role.EMPLOYEE, "Grid operations"),
    ("aylin", "aylin@nordlicht.example", "Aylin Kaya", Role.MODERATOR, "Community"),
    ("weber", "weber@example.org", "Gisela Weber", Role.CUSTOMER, ""),
    ("tom", "tom@example.org", "Tom Becker", Role.CUSTOMER, ""),
    ("lena", "lena@example.org", "Lena Schulz", Role.CUSTOMER, ""),
]

STAFF_NOTE = "staff"  # a message's third element: a staff note
THREADS: list[tuple[str, str, str, str, list[tuple[str, ...]], str | None]] = [
    # author, title, kind, visibility, [(speaker, body[, STAFF_NOTE])], status
    (
        "weber",
        "Stromausfall in der Hafenstraße – wann ist der Strom wieder da?",
        "question",
        "public",
        [
            (
                "weber",
                "Seit 21:40 ist bei uns in der **Hafenstraße 12** der Strom weg. "
                "Die Nachbarn auch. Wissen Sie schon, wie lange das dauert?",
            ),
            (
                "jan",
                "Guten Abend Frau Weber, ich bin vor Ort am Umspannwerk Hafen. "
                "Ein Kabelschaden, wir schalten gerade um. Rechnen Sie mit ca. 45 Minuten.",
            ),
            (
                "grid",
                "Netzleitstelle: Muffe vor Hafenstraße 14 durchgebrannt, Trupp 3 tauscht sie "
                "morgen früh. Bis dahin über Station Kaimauer versorgt – bitte nicht an Kunden "
                "weitergeben, Termin noch unsicher.",
                STAFF_NOTE,
            ),
            ("tom", "Danke für die schnelle Info! Bei uns in Nr. 20 auch betroffen."),
            (
                "jan",
                "Update: Die Umschaltung ist erfolgt, alle Haushalte sollten wieder "
                "Strom haben. Bitte melden Sie sich, falls nicht.",
            ),
            ("weber", "Licht ist wieder an. Vielen Dank!"),
        ],
        "answered",
    ),
    (
        "tom",
        "Why did my advance payment go up by 30 €?",
        "question",
        "public",
        [
            (
                "tom",
                "My monthly advance payment went from 85 € to 115 €. "
                "My usage hasn't changed. Can someone explain?",
            )
        ],
        None,
    ),
    (
        "lena",
        "Wie lese ich meinen neuen Smart Meter ab?",
        "question",
        "public",
        [
            (
                "lena",
                "Seit letzter Woche habe ich einen neuen Zähler mit Display. "
                "Welche Zahl ist mein Verbrauch?",
            ),
            (
                "weber",
                "Bei mir war es der Wert mit **1.8.0** davor – das ist der Bezug in kWh. "
                "Einfach mit der Taschenlampe auf das Lichtsymbol leuchten, dann blättert "
                "die Anzeige weiter.",
            ),
            ("lena", "Super, das hat geklappt – danke!"),
        ],
        "answered",
    ),
    (
        "mira",
        "Rollout of the new smart meters in district north",
        "discussion",
        "internal",
        [
            (
                "mira",
                "Billing needs the old meter readings on the day of the change. "
                "Can field service photograph the old display before removal?",
            ),
            ("jan", "Yes – we'll add it to the checklist. The app already supports photos."),
            ("grid", "Grid ops: the first 400 meters go in from 1 December, streets list follows."),
        ],
        None,
    ),
    (
        "tom",
        "More charging points at the harbour",
        "idea",
        "public",
        [
            (
                "tom",
                "The two charging points at the harbour car park are always busy on "
                "weekends. Could you add more?",
            ),
            ("lena", "+1, especially in summer."),
        ],
        None,
    ),
    (
        "lena",
        "App-Erinnerung vor der Zählerablesung",
        "idea",
        "public",
        [("lena", "Eine Push-Erinnerung zwei Tage vor der Ablesung wäre praktisch.")],
        None,
    ),
]
# Ideas besides the two above: author, title, description, tags; then who votes for which.
IDEAS: list[tuple[str, str, str, str]] = [
    ("weber", "Dunkler Modus für die App",
     "Abends blendet die App sehr. Ein dunkles Design wäre schön.", "app, design"),
    ("tom", "Abschlag selbst in der App anpassen",
     "Ich würde meinen monatlichen Abschlag gern selbst ändern, ohne anzurufen.", "app, billing"),
    ("lena", "Ökostrom-Anteil auf der Rechnung zeigen",
     "Wie viel meines Stroms kam aus Wind und Sonne? Das würde ich gern sehen.",
     "billing, green-energy"),
]  # fmt: skip
IDEA_VOTES = {
    "More charging points at the harbour": ("weber", "lena", "jan", "mira"),
    "App-Erinnerung vor der Zählerablesung": ("tom", "weber"),
    "Dunkler Modus für die App": ("tom", "lena", "jan"),
    "Abschlag selbst in der App anpassen": ("weber", "lena"),
    "Ökostrom-Anteil auf der Rechnung zeigen": ("weber",),
}
# Staff moved four ideas along: who, the new status, the reason (to decline), their words.
IDEA_STATUSES: list[tuple[str, str, str, str, str]] = [
    ("More charging points at the harbour", "grid", "planned", "",
     "Vier neue Ladepunkte am Hafenparkplatz sind für das Frühjahr 2027 geplant."),
    ("App-Erinnerung vor der Zählerablesung", "mira", "in_progress", "",
     "Wir bauen die Erinnerung gerade ein: sieben Tage vor dem Ablesetermin, per Push."),
    ("Ökostrom-Anteil auf der Rechnung zeigen", "mira", "done", "",
     "Ab der Jahresrechnung 2026 steht der Anteil aus Wind und Sonne auf Seite 2."),
    ("Abschlag selbst in der App anpassen", "mira", "declined",
     "Den Abschlag berechnen wir aus Ihrem Verbrauch; eine Änderung prüft die Abrechnung.",
     "Schreiben Sie uns gern eine Frage, wenn Ihr Abschlag nicht passt."),
]  # fmt: skip


# Accepted answers: the asker, the answer (its author, client id above), who found it helpful.
COMMUNITY = [
    ("lena", ("weber", "demo-2-1"), ("lena", "tom")),  # a customer answered a customer
    ("weber", ("jan", "demo-0-4"), ("weber", "tom", "mira")),
]

ROLLOUT_POST = """Ab 1. Dezember tauschen wir im Bezirk Nord die ersten 400 Zähler gegen Smart
Meter. Bitte fotografiert beim Ausbau den alten Zählerstand – Billing braucht ihn für die
Schlussrechnung. Fragen gern hier in den Kommentaren."""

SMART_METER_ARTICLE = """Der neue Zähler zeigt mehrere Werte nacheinander an. Für die
Ablesung zählt der **Bezug** in kWh.

## Die Anzeige weiterschalten

Leuchten Sie mit einer Taschenlampe kurz auf das Lichtsymbol (ein Auge) neben dem Display.
Jedes Leuchten schaltet einen Wert weiter.

## Welcher Wert ist mein Verbrauch?

- **1.8.0**: Bezug, Ihr Verbrauch – diesen Wert melden Sie uns.
- **2.8.0**: Einspeisung (nur mit Photovoltaik-Anlage).

### Wenn die Anzeige dunkel bleibt

Der Zähler braucht einige Sekunden Licht. Bleibt sie dunkel, schreiben Sie uns eine Frage –
unser Außendienst hilft."""


def demo_settings(settings: Settings) -> Settings:
    """Serve the demo under its company's name, unless COMPANY_NAME names another."""
    return settings if settings.company_name else settings.with_overrides(company_name=DEMO_COMPANY)


async def load_demo(publisher: Publisher | None = None) -> list[str]:
    """Create the demo company unless it exists; return how to sign in as each role."""
    live = publisher or Publisher()  # no server running: nothing is live yet
    people: dict[str, User] = {}
    fresh = await user_by_email(PEOPLE[0][1]) is None
    for key, email, name, role, team in PEOPLE:
        found = await user_by_email(email)
        people[key] = found or await create_user(
            email, name, DEMO_PASSWORD, role, team, verified=True
        )
    if fresh:
        for key, _, _, role, team in PEOPLE:
            if team and role != Role.CUSTOMER and not await Team.exists(name=team):
                lead = people[key].id if key in ("jan", "mira", "grid") else None
                await create_team(people["admin"], team, lead)
        for i, (author, title, kind, visibility, messages, status) in enumerate(THREADS):
            first_speaker, first_body, *_ = messages[0]
            thread, _, _ = await start_thread(
                live, people[author], title, first_body, f"demo-{i}-0", kind, visibility
            )
            for j, (speaker, body, *note) in enumerate(messages[1:], start=1):
                audience = Audience.STAFF if note == [STAFF_NOTE] else Audience.ALL
                await send_message(
                    live, people[speaker], thread.id, body, f"demo-{i}-{j}", audience
                )
            if status:
                await update_thread(live, people["jan"], thread.id, status=status)
            current = await thread_by_id(thread.id)
            assert current is not None
            await mark_read(live, people[author], current)
        # Spaces: the company's, and each team's; Mira posts the rollout news for everyone.
        company = await create_space(people["admin"], "Nordlicht intern",
                                     "Neuigkeiten und Fragen für alle Mitarbeitenden",
                                     company=True)  # fmt: skip
        for each in await Team.all().order_by("name"):
            await create_space(people["admin"], each.name, "", each.id)
        await join_space(people["jan"], company.id, True)
        await start_thread(live, people["mira"], "Smart-Meter-Rollout startet am 1. Dezember",
                           ROLLOUT_POST, "demo-post-0", "post", space=company.id)  # fmt: skip
        # The help centre's first article, from what customers asked.
        await create_article(live, people["mira"], "So lesen Sie Ihren Smart Meter ab",
                             SMART_METER_ARTICLE, public=True)  # fmt: skip
        # Something for the moderator to look at: a "+1" a customer finds off-topic.
        plus_one = await message_by_client_id(people["lena"], f"demo-{len(THREADS) - 2}-1")
        if plus_one is not None:
            await flag(live, people["weber"], "message", plus_one.id, "off_topic",
                       "Nur ein +1, bitte lieber ein Daumen-hoch")  # fmt: skip
        # Community answers: Lena accepts Frau Weber's answer, Frau Weber Jan's update (the
        # official answer); people found them helpful.
        for asker, (author, client_id), fans in COMMUNITY:
            answer = await message_by_client_id(people[author], client_id)
            if answer is not None:
                await accept_answer(live, people[asker], answer.id)
                for fan in fans:
                    await mark_helpful(live, people[fan], answer.id, "1")
        # Ideas: three more with tags, and votes on every idea from customers and staff.
        for n, (author, title, body, tags) in enumerate(IDEAS):
            await submit_idea(live, people[author], title, body, tags, f"demo-idea-{n}")
        for idea in await idea_threads(people["admin"]):
            for voter in IDEA_VOTES.get(idea.title, ()):
                await vote(live, people[voter], idea.id, "1")
        # Staff's status changes, each with an official response in the idea's thread.
        by_title = {idea.title: idea for idea in await idea_threads(people["admin"])}
        for title, who, status, reason, words in IDEA_STATUSES:
            await set_status(live, people[who], by_title[title].id, status, reason, words)
        # The customer profile: what staff keep about Tom, who waits for billing.
        for tag in ("e-mobility", "paperless"):
            await tag_customer(live, people["mira"], people["tom"].id, tag)
        await note_customer(
            live, people["mira"], people["tom"].id,
            "Drives an EV, charges at the harbour. Prefers **e-mail** to calls.",
        )  # fmt: skip
    lines = [f"Demo company {DEMO_COMPANY!r} is ready. Sign in with password "
             f"{DEMO_PASSWORD!r} as:"]  # fmt: skip
    for key, email, name, role, team in PEOPLE:
        if key in ("admin", "jan", "mira", "aylin", "weber", "tom"):
            lines.append(f"  {role.value:<9} {email:<28} {name}" + (f" ({team})" if team else ""))
    return lines
