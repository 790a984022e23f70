"""What each report mart should hold, computed in pandas from the mart's inputs.

Written from the .yml descriptions in sql/reports/, not from the SQL: the integration tests
compare the marts with these frames. Inputs are frames as read from the warehouse with times
as naive UTC datetimes, dates as datetimes at midnight and flags as booleans; date columns of
the results are datetimes at midnight too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

ATTRIBUTION_WINDOW_DAYS = 5
CHURN_DAYS = 180
PAID_STATUSES = ("paid", "shipped", "delivered")
GRAINS = ("day", "week", "month")

# RFC 3463 section 3: the subject is the middle number of class.subject.detail.
STATUS_SUBJECTS = {
    "0": "other",
    "1": "addressing",
    "2": "mailbox",
    "3": "mail system",
    "4": "network and routing",
    "5": "mail delivery protocol",
    "6": "message content",
    "7": "security or policy",
}

# The company behind the email domains each big mailbox provider serves.
MAILBOX_PROVIDERS = {
    "Google": ("gmail.com", "googlemail.com"),
    "Mail.ru": ("mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru", "xmail.ru"),
    "Yandex": (
        "yandex.ru",
        "ya.ru",
        "yandex.com",
        "yandex.by",
        "yandex.kz",
        "yandex.ua",
        "narod.ru",
    ),
    "Microsoft": (
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "outlook.ru",
        "hotmail.co.uk",
        "live.ru",
    ),
    "Apple": ("icloud.com", "me.com", "mac.com"),
    "Yahoo": ("yahoo.com", "ymail.com", "rocketmail.com", "yahoo.co.uk"),
    "Rambler": ("rambler.ru", "lenta.ru", "autorambler.ru", "myrambler.ru", "ro.ru"),
    "AOL": ("aol.com",),
    "GMX / Web.de": ("gmx.com", "gmx.de", "gmx.net", "web.de"),
    "BT": ("btinternet.com",),
    "Proton": ("proton.me", "protonmail.com"),
}
PROVIDER_OF_DOMAIN = {
    domain: company for company, domains in MAILBOX_PROVIDERS.items() for domain in domains
}


@dataclass(frozen=True)
class MartInputs:
    """The warehouse tables the report marts read."""

    events: pd.DataFrame
    message_events: pd.DataFrame
    orders: pd.DataFrame
    devices: pd.DataFrame
    signups: pd.DataFrame
    profiles: pd.DataFrame
    profile_events: pd.DataFrame
    profile_orders: pd.DataFrame
    profile_message_events: pd.DataFrame
    profile_subscription_states: pd.DataFrame


# --- small helpers ----------------------------------------------------------------------------


def day_of(times: pd.Series) -> pd.Series:
    return times.dt.floor("D")


def period_start(times: pd.Series, grain: str) -> pd.Series:
    days = day_of(times)
    if grain == "day":
        return days
    if grain == "week":
        return days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    return days - pd.to_timedelta(days.dt.day - 1, unit="D")


def month_number(times: pd.Series) -> pd.Series:
    return times.dt.year * 12 + times.dt.month - 1


def ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator as floats, NaN where the denominator is 0 or missing."""
    denominator = denominator.astype("float64")
    return numerator.astype("float64") / denominator.where(denominator != 0)


def text_or(values: pd.Series, default: str) -> pd.Series:
    return values.astype(object).where(values.notna(), default)


def visitor_of(events: pd.DataFrame) -> pd.Series:
    """The visitor: the anonymous id, else the user id."""
    return (
        events["anonymous_id"]
        .astype(object)
        .where(events["anonymous_id"].notna(), events["user_id"].astype(object))
    )


def first_per(frame: pd.DataFrame, keys: list[str], order: list[str]) -> pd.DataFrame:
    """The first row of each `keys` group in `order`."""
    return frame.sort_values([*keys, *order], kind="mergesort").drop_duplicates(keys)


def json_text(properties: pd.Series, name: str) -> pd.Series:
    def pick(text: object) -> object:
        if not isinstance(text, str) or not text:
            return None
        value = json.loads(text).get(name)
        return None if value is None else str(value)

    return properties.map(pick)


# --- communications ---------------------------------------------------------------------------


def last_click_attribution(
    message_events: pd.DataFrame,
    profile_message_events: pd.DataFrame,
    profile_orders: pd.DataFrame,
    orders: pd.DataFrame,
    window_days: int = ATTRIBUTION_WINDOW_DAYS,
) -> pd.DataFrame:
    """Per message: the paid orders whose profile's last click within the window before the
    order was on it (each order once), and their total."""
    clicks = profile_message_events.loc[
        profile_message_events["event_type"] == "clicked",
        ["database", "profile_id", "event_id", "occurred_at"],
    ].merge(message_events[["event_id", "message_id"]], on="event_id")
    placed = profile_orders[["database", "profile_id", "order_id", "created_at"]]
    pairs = placed.merge(clicks, on=["database", "profile_id"])
    window = pd.Timedelta(days=window_days)
    pairs = pairs[
        (pairs["occurred_at"] <= pairs["created_at"])
        & (pairs["occurred_at"] > pairs["created_at"] - window)
    ]
    last = pairs.sort_values(
        ["order_id", "occurred_at", "message_id"], ascending=[True, False, True]
    ).drop_duplicates("order_id")
    paid = orders.loc[orders["is_paid"].astype(bool), ["order_id", "total"]]
    attributed = last[["order_id", "message_id"]].merge(paid, on="order_id")
    return attributed.groupby("message_id").agg(
        attributed_orders=("order_id", "size"), attributed_revenue=("total", "sum")
    )


def communications_daily(
    message_events: pd.DataFrame,
    profile_message_events: pd.DataFrame,
    profile_orders: pd.DataFrame,
    orders: pd.DataFrame,
    window_days: int = ATTRIBUTION_WINDOW_DAYS,
) -> pd.DataFrame:
    kind = message_events["event_type"]
    bounce = message_events["bounce_type"]
    flagged = message_events.assign(
        is_sent=kind == "sent",
        is_delivered=kind == "delivered",
        is_open=kind == "opened",
        is_click=kind == "clicked",
        is_unsubscribe=kind == "unsubscribed",
        is_complaint=kind == "complained",
        is_hard=(kind == "bounced") & (bounce == "hard"),
        is_soft=(kind == "bounced") & (bounce == "soft"),
        is_failed=kind == "failed",
        sent_at=message_events["occurred_at"].where(kind == "sent"),
    )
    messages = flagged.groupby("message_id").agg(
        channel=("channel", "first"),
        campaign_id=("campaign_id", "first"),
        first_sent_at=("sent_at", "min"),
        first_event_at=("occurred_at", "min"),
        sent=("is_sent", "any"),
        delivered=("is_delivered", "any"),
        opens=("is_open", "sum"),
        clicks=("is_click", "sum"),
        unsubscribed=("is_unsubscribe", "any"),
        complaints=("is_complaint", "any"),
        hard=("is_hard", "any"),
        soft=("is_soft", "any"),
        failed=("is_failed", "any"),
    )
    messages["report_date"] = day_of(messages["first_sent_at"].fillna(messages["first_event_at"]))
    messages["opened"] = messages["opens"] > 0
    messages["clicked"] = messages["clicks"] > 0
    messages["soft_bounces"] = messages["soft"] & ~messages["hard"]
    attributed = last_click_attribution(
        message_events, profile_message_events, profile_orders, orders, window_days
    )
    messages = messages.join(attributed)
    messages["attributed_orders"] = messages["attributed_orders"].fillna(0).astype("int64")
    messages["attributed_revenue"] = messages["attributed_revenue"].fillna(0.0)
    daily = (
        messages.groupby(["report_date", "channel", "campaign_id"], dropna=False)
        .agg(
            sent=("sent", "sum"),
            delivered=("delivered", "sum"),
            opened_unique=("opened", "sum"),
            opened_total=("opens", "sum"),
            clicked_unique=("clicked", "sum"),
            clicked_total=("clicks", "sum"),
            unsubscribed=("unsubscribed", "sum"),
            complaints=("complaints", "sum"),
            soft_bounces=("soft_bounces", "sum"),
            hard_bounces=("hard", "sum"),
            failed=("failed", "sum"),
            attributed_orders=("attributed_orders", "sum"),
            attributed_revenue=("attributed_revenue", "sum"),
        )
        .reset_index()
    )
    return daily.assign(
        delivery_rate=ratio(daily["delivered"], daily["sent"]),
        open_rate=ratio(daily["opened_unique"], daily["delivered"]),
        click_rate=ratio(daily["clicked_unique"], daily["delivered"]),
        click_to_open_rate=ratio(daily["clicked_unique"], daily["opened_unique"]),
        unsubscribe_rate=ratio(daily["unsubscribed"], daily["delivered"]),
        complaint_rate=ratio(daily["complaints"], daily["delivered"]),
        bounce_rate=ratio(daily["soft_bounces"] + daily["hard_bounces"], daily["sent"]),
        conversion_rate=ratio(daily["attributed_orders"], daily["delivered"]),
    )


# --- web --------------------------------------------------------------------------------------


def sessions_of(events: pd.DataFrame) -> pd.DataFrame:
    """One row per session with the attributes of its first event (by time, then event id)."""
    in_sessions = events[events["session_id"].notna()]
    return first_per(in_sessions, ["session_id"], ["occurred_at", "event_id"])


def traffic_daily(events: pd.DataFrame, devices: pd.DataFrame) -> pd.DataFrame:
    in_sessions = events[events["session_id"].notna()]
    counts = (
        in_sessions.assign(
            is_page=in_sessions["event_type"] == "page",
            is_track=in_sessions["event_type"] == "track",
            is_order=in_sessions["event_name"] == "Order Completed",
        )
        .groupby("session_id")[["is_page", "is_track", "is_order"]]
        .sum()
    )
    platforms = devices.dropna(subset=["platform"]).drop_duplicates("device_id")
    sessions = (
        sessions_of(events)
        .merge(counts, left_on="session_id", right_index=True)
        .merge(platforms[["device_id", "platform"]], on="device_id", how="left")
    )
    sessions = pd.DataFrame(
        {
            "report_date": day_of(sessions["occurred_at"]),
            "traffic_source": sessions["traffic_source"],
            "utm_source": text_or(sessions["utm_source"], ""),
            "utm_medium": text_or(sessions["utm_medium"], ""),
            "utm_campaign": text_or(sessions["utm_campaign"], ""),
            "landing_page": text_or(sessions["path"], ""),
            "device": text_or(sessions["platform"], "unknown"),
            "visitor": visitor_of(sessions),
            "page_views": sessions["is_page"],
            "bounced": (sessions["is_page"] == 1) & (sessions["is_track"] == 0),
            "converted": sessions["is_order"] > 0,
        }
    )
    keys = [
        "report_date",
        "traffic_source",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "landing_page",
        "device",
    ]
    daily = (
        sessions.groupby(keys, dropna=False)
        .agg(
            sessions=("visitor", "size"),
            visitors=("visitor", "nunique"),
            page_views=("page_views", "sum"),
            bounces=("bounced", "sum"),
            converted_sessions=("converted", "sum"),
        )
        .reset_index()
    )
    return daily.assign(
        bounce_rate=ratio(daily["bounces"], daily["sessions"]),
        conversion_rate=ratio(daily["converted_sessions"], daily["sessions"]),
    )


def goals_daily(events: pd.DataFrame) -> pd.DataFrame:
    """Goal completions by the traffic source and UTM tags of the visit (the session's first
    event); an event outside any session keeps its own."""
    goals = events[events["event_name"] == "Goal Completed"]
    visit_columns = ["traffic_source", "utm_source", "utm_campaign"]
    visits = sessions_of(events)[["session_id", *visit_columns]]
    goals = goals.merge(visits, on="session_id", how="left", suffixes=("_event", ""))
    for column in visit_columns:
        goals[column] = (
            goals[column]
            .astype(object)
            .where(goals["session_id"].notna(), goals[f"{column}_event"].astype(object))
        )
    completions = pd.DataFrame(
        {
            "report_date": day_of(goals["occurred_at"]),
            "goal": text_or(goals["goal"], ""),
            "traffic_source": goals["traffic_source"],
            "utm_source": text_or(goals["utm_source"], ""),
            "utm_campaign": text_or(goals["utm_campaign"], ""),
            "visitor": visitor_of(goals),
        }
    )
    return (
        completions.groupby(
            ["report_date", "goal", "traffic_source", "utm_source", "utm_campaign"], dropna=False
        )
        .agg(completions=("visitor", "size"), visitors=("visitor", "nunique"))
        .reset_index()
    )


def form_submissions_daily(signups: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    sign_ups = pd.DataFrame(
        {
            "report_date": day_of(signups["signed_up_at"]),
            "form": "signup",
            "visitor": signups["anonymous_id"].astype(object),
        }
    )
    submitted = events[events["event_name"] == "Form Submitted"]
    form_events = pd.DataFrame(
        {
            "report_date": day_of(submitted["occurred_at"]),
            "form": text_or(json_text(submitted["properties"], "form_id"), ""),
            "visitor": visitor_of(submitted),
        }
    )
    submissions = pd.concat([sign_ups, form_events], ignore_index=True)
    return (
        submissions.groupby(["report_date", "form"])
        .agg(submissions=("visitor", "size"), visitors=("visitor", "nunique"))
        .reset_index()
    )


# --- profiles ---------------------------------------------------------------------------------


def client_growth(
    profiles: pd.DataFrame,
    profile_events: pd.DataFrame,
    profile_orders: pd.DataFrame,
    subscription_states: pd.DataFrame,
    churn_days: int = CHURN_DAYS,
) -> pd.DataFrame:
    person = ["database", "profile_id"]
    activity = pd.concat(
        [
            profile_events[[*person, "occurred_at"]],
            profile_orders[[*person, "created_at"]].rename(columns={"created_at": "occurred_at"}),
        ],
        ignore_index=True,
    )
    active = activity.groupby(person)["occurred_at"].agg(
        first_active_at="min", last_active_at="max"
    )
    first_events = first_per(profile_events, person, ["occurred_at", "event_id"])
    people = (
        profiles[[*person, "created_at"]]
        .merge(active, left_on=person, right_index=True, how="left")
        .merge(first_events[[*person, "traffic_source"]], on=person, how="left")
    )
    people["first_seen_at"] = people[["created_at", "first_active_at"]].min(axis=1)
    people["source"] = text_or(people["traffic_source"], "offline")

    horizon = active["last_active_at"].max()
    churn_at = people["last_active_at"] + pd.Timedelta(days=churn_days)
    churned = people[churn_at <= horizon].assign(changed_at=churn_at)
    unsubscribed_at = (
        subscription_states[subscription_states["status"] == "unsubscribed"]
        .groupby(person)["changed_at"]
        .min()
        .rename("changed_at")
    )
    unsubscribed = people.merge(unsubscribed_at, left_on=person, right_index=True)
    columns = ["database", "source", "changed_at"]
    changes = pd.concat(
        [
            people.assign(changed_at=people["first_seen_at"])[columns].assign(change="new"),
            unsubscribed[columns].assign(change="unsubscribed"),
            churned[columns].assign(change="churned"),
        ],
        ignore_index=True,
    )
    for change in ("new", "unsubscribed", "churned"):
        changes[change] = (changes["change"] == change).astype("int64")

    by_grain = []
    for grain in GRAINS:
        periods = (
            changes.assign(grain=grain, period_start=period_start(changes["changed_at"], grain))
            .groupby(["database", "grain", "period_start", "source"])[
                ["new", "unsubscribed", "churned"]
            ]
            .sum()
            .reset_index()
        )
        by_grain.append(periods)
    growth = pd.concat(by_grain, ignore_index=True).rename(columns={"new": "new_profiles"})
    growth["net_growth"] = growth["new_profiles"] - growth["unsubscribed"] - growth["churned"]
    growth = growth.sort_values(["database", "grain", "source", "period_start"])
    growth["cumulative_net_growth"] = growth.groupby(["database", "grain", "source"])[
        "net_growth"
    ].cumsum()
    return growth.reset_index(drop=True)


def _monthly_cohorts(
    orders: pd.DataFrame, index_name: str, size_name: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each profile's cohort (the month of its first order, with its month number), and the
    dense grid of every cohort by every month since, up to the month of the latest order."""
    person = ["database", "profile_id"]
    firsts = orders.groupby(person)["created_at"].min().rename("first_at").reset_index()
    firsts["cohort"] = period_start(firsts["first_at"], "month")
    firsts["cohort_month"] = month_number(firsts["first_at"])
    sizes = (
        firsts.groupby(["database", "cohort", "cohort_month"])
        .size()
        .rename(size_name)
        .reset_index()
    )
    horizon = int(month_number(orders["created_at"]).max())
    sizes[index_name] = [list(range(horizon - month + 1)) for month in sizes["cohort_month"]]
    grid = sizes.explode(index_name).astype({index_name: "int64"})
    return firsts, grid.drop(columns="cohort_month")


def cohort_retention(profile_orders: pd.DataFrame) -> pd.DataFrame:
    orders = profile_orders[text_or(profile_orders["status"], "") != "cancelled"]
    firsts, grid = _monthly_cohorts(orders, "period_index", "cohort_size")
    dated = orders.merge(firsts, on=["database", "profile_id"])
    dated["period_index"] = month_number(dated["created_at"]) - dated["cohort_month"]
    active = (
        dated.groupby(["database", "cohort", "period_index"])["profile_id"]
        .nunique()
        .rename("active")
        .reset_index()
    )
    retention = grid.merge(active, on=["database", "cohort", "period_index"], how="left")
    retention["active"] = retention["active"].fillna(0).astype("int64")
    retention["retention"] = ratio(retention["active"], retention["cohort_size"])
    return retention


def ltv_cohort(profile_orders: pd.DataFrame) -> pd.DataFrame:
    orders = profile_orders[profile_orders["status"].isin(PAID_STATUSES)]
    index = "months_since_first_order"
    firsts, grid = _monthly_cohorts(orders, index, "customers")
    dated = orders.merge(firsts, on=["database", "profile_id"])
    dated[index] = month_number(dated["created_at"]) - dated["cohort_month"]
    monthly = (
        dated.groupby(["database", "cohort", index])
        .agg(orders=("order_id", "size"), revenue=("total", "sum"))
        .reset_index()
    )
    ltv = grid.merge(monthly, on=["database", "cohort", index], how="left")
    ltv["orders"] = ltv["orders"].fillna(0).astype("int64")
    ltv["revenue"] = ltv["revenue"].fillna(0.0)
    ltv = ltv.sort_values(["database", "cohort", index])
    cohorts = ltv.groupby(["database", "cohort"])
    ltv["cumulative_orders"] = cohorts["orders"].cumsum()
    ltv["cumulative_revenue"] = cohorts["revenue"].cumsum()
    return ltv.assign(
        ltv_per_customer=ratio(ltv["cumulative_revenue"], ltv["customers"]),
        average_order_value=ratio(ltv["cumulative_revenue"], ltv["cumulative_orders"]),
        purchase_frequency=ratio(ltv["cumulative_orders"], ltv["customers"]),
    ).reset_index(drop=True)


# --- deliverability ---------------------------------------------------------------------------


def status_class_of(smtp_status: pd.Series) -> pd.Series:
    """permanent for 5.x.x, transient for 4.x.x (RFC 3463 class), else unknown."""
    first = smtp_status.astype(object).map(lambda s: s.split(".")[0] if isinstance(s, str) else "")
    return first.map({"5": "permanent", "4": "transient"}).fillna("unknown").astype(object)


def status_subject_of(smtp_status: pd.Series) -> pd.Series:
    def subject(status: object) -> str:
        parts = status.split(".") if isinstance(status, str) else []
        return STATUS_SUBJECTS.get(parts[1], "unknown") if len(parts) > 1 else "unknown"

    return smtp_status.map(subject).astype(object)


def mailbox_provider_of(domain: pd.Series, provider: pd.Series) -> pd.Series:
    """The company behind the email domain, else the domain; without a domain, the provider
    (carrier or push service)."""
    company = domain.map(lambda d: PROVIDER_OF_DOMAIN.get(d, d) if isinstance(d, str) else None)
    return company.astype(object).where(company.notna(), text_or(provider, ""))


def bounces(message_events: pd.DataFrame) -> pd.DataFrame:
    bounced = message_events[message_events["event_type"] == "bounced"]
    classified = pd.DataFrame(
        {
            "report_date": day_of(bounced["occurred_at"]),
            "campaign_id": text_or(bounced["campaign_id"], ""),
            "channel": bounced["channel"],
            "bounce_type": text_or(bounced["bounce_type"], "unknown"),
            "status_class": status_class_of(bounced["smtp_status"]),
            "smtp_status": text_or(bounced["smtp_status"], ""),
            "status_subject": status_subject_of(bounced["smtp_status"]),
            "recipient_domain": text_or(bounced["recipient_domain"], ""),
            "mailbox_provider": mailbox_provider_of(
                bounced["recipient_domain"], bounced["provider"]
            ),
            "message_id": bounced["message_id"],
            "recipient": bounced["recipient"],
        }
    )
    keys = [column for column in classified.columns if column not in ("message_id", "recipient")]
    return (
        classified.groupby(keys, dropna=False)
        .agg(
            bounces=("message_id", "size"),
            messages=("message_id", "nunique"),
            recipients=("recipient", "nunique"),
        )
        .reset_index()
    )


def non_deliveries(message_events: pd.DataFrame) -> pd.DataFrame:
    outcomes = message_events[message_events["event_type"].isin(["failed", "deferred", "expired"])]
    rows = pd.DataFrame(
        {
            "report_date": day_of(outcomes["occurred_at"]),
            "channel": outcomes["channel"],
            "campaign_id": text_or(outcomes["campaign_id"], ""),
            "outcome": outcomes["event_type"],
            "smtp_status": text_or(outcomes["smtp_status"], ""),
            "reason": text_or(outcomes["diagnostic"], "unknown"),
            "provider": text_or(outcomes["provider"], ""),
            "message_id": outcomes["message_id"],
        }
    )
    keys = [column for column in rows.columns if column != "message_id"]
    return (
        rows.groupby(keys, dropna=False)
        .agg(events=("message_id", "size"), messages=("message_id", "nunique"))
        .reset_index()
    )


def email_click_map(message_events: pd.DataFrame) -> pd.DataFrame:
    email = message_events[message_events["channel"] == "email"].assign(
        campaign_id=lambda frame: text_or(frame["campaign_id"], "")
    )
    delivered = (
        email[email["event_type"] == "delivered"]
        .groupby("campaign_id")["message_id"]
        .nunique()
        .rename("delivered")
    )
    clicked = email[email["event_type"] == "clicked"].assign(
        url=lambda frame: text_or(frame["url"], ""),
        link_position=lambda frame: frame["link_position"].fillna(0).astype("int64"),
    )
    links = (
        clicked.groupby(["campaign_id", "url", "link_position"])
        .agg(clicks=("message_id", "size"), unique_clicks=("message_id", "nunique"))
        .reset_index()
    )
    campaign_clicks = links.groupby("campaign_id")["clicks"].transform("sum")
    links = links.merge(delivered, left_on="campaign_id", right_index=True, how="left")
    return links.assign(
        share_of_clicks=ratio(links["clicks"], campaign_clicks),
        click_rate=ratio(links["unique_clicks"], links["delivered"]),
    ).drop(columns="delivered")


# --- every mart -------------------------------------------------------------------------------

MART_REFERENCES: dict[str, Callable[[MartInputs], pd.DataFrame]] = {
    "report_communications_daily": lambda given: communications_daily(
        given.message_events, given.profile_message_events, given.profile_orders, given.orders
    ),
    "report_traffic_daily": lambda given: traffic_daily(given.events, given.devices),
    "report_client_growth": lambda given: client_growth(
        given.profiles,
        given.profile_events,
        given.profile_orders,
        given.profile_subscription_states,
    ),
    "report_cohort_retention": lambda given: cohort_retention(given.profile_orders),
    "report_ltv_cohort": lambda given: ltv_cohort(given.profile_orders),
    "report_goals_daily": lambda given: goals_daily(given.events),
    "report_bounces": lambda given: bounces(given.message_events),
    "report_non_deliveries": lambda given: non_deliveries(given.message_events),
    "report_email_click_map": lambda given: email_click_map(given.message_events),
    "report_form_submissions_daily": lambda given: form_submissions_daily(
        given.signups, given.events
    ),
}
