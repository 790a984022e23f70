"""The fictional shop the sample data is about: products, site pages, traffic sources.

The shop is "Полка" at https://www.polka.example (a reserved domain), with a mobile app whose
deep links start with polka://. Its catalogue is the same for every seed: about 500 products
in 20 categories from 40 brands, priced in roubles.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import numpy as np
import pyarrow as pa

SITE = "https://www.polka.example"
APP = "polka:/"
SHOP_NAME = "Полка"

# (category, url slug, product noun, lowest price, highest price) — prices in roubles
CATEGORIES: tuple[tuple[str, str, str, int, int], ...] = (
    ("Smartphones", "smartphones", "Phone", 9_990, 129_990),
    ("Laptops", "laptops", "Book", 34_990, 219_990),
    ("Tablets", "tablets", "Tab", 12_990, 99_990),
    ("Headphones", "headphones", "Buds", 990, 34_990),
    ("Smartwatches", "smartwatches", "Watch", 3_990, 59_990),
    ("TVs", "tvs", "Vision", 19_990, 189_990),
    ("Kitchen Appliances", "kitchen-appliances", "Blender", 1_990, 24_990),
    ("Coffee Machines", "coffee-machines", "Barista", 6_990, 89_990),
    ("Vacuum Cleaners", "vacuum-cleaners", "Clean", 4_990, 64_990),
    ("Sneakers", "sneakers", "Runner", 2_990, 19_990),
    ("Jackets", "jackets", "Parka", 4_990, 39_990),
    ("T-Shirts", "t-shirts", "Tee", 590, 3_990),
    ("Jeans", "jeans", "Denim", 1_990, 9_990),
    ("Cosmetics", "cosmetics", "Glow", 290, 4_990),
    ("Perfume", "perfume", "Eau", 1_490, 19_990),
    ("Books", "books", "Story", 290, 2_490),
    ("Toys", "toys", "Play", 490, 14_990),
    ("Sports Equipment", "sports", "Active", 990, 49_990),
    ("Pet Supplies", "pets", "Paws", 190, 7_990),
    ("Home Textiles", "home-textiles", "Comfort", 690, 12_990),
)
BRANDS: tuple[str, ...] = (
    "Aurora", "Borealis", "Cedar", "Dune", "Ember", "Fjord", "Glacier", "Harbor", "Iris",
    "Juniper", "Kestrel", "Lumen", "Meridian", "Nimbus", "Onyx", "Pioneer", "Quartz", "Raven",
    "Sable", "Tundra", "Umbra", "Vega", "Willow", "Xenon", "Yarrow", "Zephyr", "Altai",
    "Baikal", "Volga", "Sever", "Taiga", "Ural", "Neva", "Ladoga", "Sayany", "Elbrus", "Amur",
    "Kama", "Oka", "Vyatka",
)  # fmt: skip
PRODUCTS_PER_CATEGORY = 25
_MODELS = ("Lite", "Pro", "Max", "Air", "Mini", "Plus", "S", "X", "One", "Neo", "Go", "Ultra")

# Promo codes: (code, share off the subtotal, fixed roubles off)
PROMO_CODES: tuple[tuple[str, float, float], ...] = (
    ("WELCOME10", 0.10, 0.0), ("SALE15", 0.15, 0.0), ("SPRING20", 0.20, 0.0),
    ("BF2025", 0.25, 0.0), ("APP5", 0.05, 0.0), ("BIRTHDAY", 0.15, 0.0),
    ("VIP500", 0.0, 500.0), ("FREESHIP", 0.0, 300.0),
)  # fmt: skip
# Roubles per unit of currency, for orders not paid in roubles.
RATES: dict[str, float] = {"RUB": 1.0, "USD": 92.0, "EUR": 100.0}
CURRENCIES: tuple[str, ...] = ("RUB", "USD", "EUR")

GOALS: tuple[tuple[str, str], ...] = (
    ("newsletter_signup", "/"),
    ("callback_request", "/contacts"),
    ("store_locator", "/delivery"),
    ("app_download", "/"),
)


@dataclass(frozen=True)
class Catalogue:
    """Products: parallel arrays indexed by product number."""

    product_id: pa.Array
    product_name: pa.Array
    category: pa.Array  # category name per product
    brand: pa.Array
    slug: list[str]
    price_rub: np.ndarray  # float64
    category_index: np.ndarray  # int
    popularity_cdf: np.ndarray  # cumulative share, for drawing products by popularity
    first_of_category: np.ndarray  # product number of each category's first product

    @property
    def size(self) -> int:
        return int(self.price_rub.shape[0])

    def draw(self, rng: np.random.Generator, rows: int) -> np.ndarray:
        """Products drawn by popularity (a few best sellers, a long tail)."""
        drawn = np.searchsorted(self.popularity_cdf, rng.random(rows), side="right")
        return np.minimum(drawn, self.size - 1)

    def draw_in_category(self, rng: np.random.Generator, categories: np.ndarray) -> np.ndarray:
        offset = rng.integers(0, PRODUCTS_PER_CATEGORY, size=categories.shape[0])
        return self.first_of_category[categories] + offset


def build_catalogue() -> Catalogue:
    """The same catalogue every time (its own fixed random stream)."""
    rng = np.random.default_rng([20_240_601, 1])
    ids: list[str] = []
    names: list[str] = []
    categories: list[str] = []
    brands: list[str] = []
    slugs: list[str] = []
    prices: list[float] = []
    category_index: list[int] = []
    for number, (category, _slug, noun, low, high) in enumerate(CATEGORIES):
        own_brands = rng.choice(len(BRANDS), size=5, replace=False)
        for item in range(PRODUCTS_PER_CATEGORY):
            brand = BRANDS[int(own_brands[item % 5])]
            model = _MODELS[int(rng.integers(0, len(_MODELS)))]
            series = int(rng.integers(1, 20)) * (10 if high > 20_000 else 1)
            product_number = 10_001 + number * PRODUCTS_PER_CATEGORY + item
            name = f"{brand} {noun} {model} {series}"
            raw_price = float(np.exp(rng.uniform(np.log(low), np.log(high))))
            price = max(float(low), round(raw_price, -2 if raw_price > 1_000 else -1) - 10)
            ids.append(f"SKU-{product_number}")
            names.append(name)
            categories.append(category)
            brands.append(brand)
            slugs.append(f"{name.lower().replace(' ', '-')}-{product_number}")
            prices.append(price)
            category_index.append(number)
    weights = 1.0 / (np.arange(len(ids)) + 8.0)
    popularity_order = rng.permutation(len(ids))
    shares = np.empty(len(ids))
    shares[popularity_order] = weights / weights.sum()
    return Catalogue(
        product_id=pa.array(ids, pa.string()),
        product_name=pa.array(names, pa.string()),
        category=pa.array(categories, pa.string()),
        brand=pa.array(brands, pa.string()),
        slug=slugs,
        price_rub=np.array(prices, dtype=np.float64),
        category_index=np.array(category_index, dtype=np.int64),
        popularity_cdf=np.cumsum(shares),
        first_of_category=np.arange(len(CATEGORIES), dtype=np.int64) * PRODUCTS_PER_CATEGORY,
    )


# --- site pages ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pages:
    """Site pages: parallel arrays indexed by page number; app screens mirror them."""

    path: pa.Array
    title: pa.Array
    url: pa.Array  # web URLs for page numbers 0..n-1, then app deep links n..2n-1
    landing_cdf: np.ndarray  # where sessions start
    browse_cdf: np.ndarray  # other generic pages
    category_of_page: np.ndarray  # category number of catalogue pages, else -1
    home: int
    signup: int
    checkout: int
    success: int
    cart: int
    first_product_page: int
    goal_page: np.ndarray  # page number per goal in GOALS

    @property
    def size(self) -> int:
        return len(self.path)


def build_pages(catalogue: Catalogue) -> Pages:
    generic: list[tuple[str, str, float, float]] = [  # path, title, landing, browse weights
        ("/", f"{SHOP_NAME} — интернет-магазин", 30.0, 6.0),
        ("/sale", "Распродажа", 8.0, 4.0),
        ("/new", "Новинки", 4.0, 3.0),
        ("/delivery", "Доставка и оплата", 1.0, 2.0),
        ("/contacts", "Контакты", 1.0, 1.0),
        ("/account", "Личный кабинет", 1.0, 3.0),
        ("/cart", "Корзина", 0.5, 4.0),
    ]
    for category, slug, _noun, _low, _high in CATEGORIES:
        generic.append((f"/catalog/{slug}", f"{category} — купить в {SHOP_NAME}", 2.0, 2.5))
    for slug, title in (
        ("how-to-choose-headphones", "Как выбрать наушники"),
        ("coffee-at-home", "Кофе дома: гид по кофемашинам"),
        ("running-shoes-guide", "Как выбрать кроссовки для бега"),
        ("gift-ideas", "Идеи подарков"),
        ("care-for-jackets", "Как ухаживать за курткой"),
    ):
        generic.append((f"/blog/{slug}", title, 1.0, 0.5))
    for query in ("iphone", "кроссовки", "наушники", "кофемашина", "пуховик", "lego"):
        generic.append((f"/search?q={quote(query)}", f"Поиск: {query}", 0.3, 1.5))
    special = [
        ("/signup", "Регистрация"),
        ("/checkout", "Оформление заказа"),
        ("/checkout/success", "Спасибо за заказ"),
    ]
    paths = [row[0] for row in generic] + [row[0] for row in special]
    titles = [row[1] for row in generic] + [row[1] for row in special]
    first_product_page = len(paths)
    product_names = catalogue.product_name.to_pylist()
    for slug, name in zip(catalogue.slug, product_names, strict=True):
        paths.append(f"/product/{slug}")
        titles.append(f"{name} — купить в {SHOP_NAME}")
    landing = np.zeros(len(paths))
    browse = np.zeros(len(paths))
    landing[: len(generic)] = [row[2] for row in generic]
    browse[: len(generic)] = [row[3] for row in generic]
    category_of_page = np.full(len(paths), -1, dtype=np.int64)
    for number, (_category, slug, *_rest) in enumerate(CATEGORIES):
        category_of_page[paths.index(f"/catalog/{slug}")] = number
    urls = [SITE + path for path in paths] + [APP + path for path in paths]
    return Pages(
        path=pa.array(paths, pa.string()),
        title=pa.array(titles, pa.string()),
        url=pa.array(urls, pa.string()),
        landing_cdf=np.cumsum(landing / landing.sum()),
        browse_cdf=np.cumsum(browse / browse.sum()),
        category_of_page=category_of_page,
        home=paths.index("/"),
        signup=paths.index("/signup"),
        checkout=paths.index("/checkout"),
        success=paths.index("/checkout/success"),
        cart=paths.index("/cart"),
        first_product_page=first_product_page,
        goal_page=np.array([paths.index(page) for _goal, page in GOALS], dtype=np.int64),
    )


# --- campaigns and traffic sources ------------------------------------------------------------
@dataclass(frozen=True)
class Campaigns:
    """Message campaigns sent during the two years, in send order."""

    campaign_id: pa.Array
    channel: np.ndarray  # 0 email, 1 sms, 2 push
    resource: np.ndarray  # 0 newsletter, 1 promo
    send_at: np.ndarray  # ms

    @property
    def size(self) -> int:
        return int(self.send_at.shape[0])


CAMPAIGN_COUNT = 120
MESSAGE_CHANNELS: tuple[str, ...] = ("email", "sms", "push")
MESSAGE_RESOURCES: tuple[str, ...] = ("newsletter", "promo")


def build_campaigns(seed: int, start_ms: int, end_ms: int) -> Campaigns:
    rng = np.random.default_rng([seed, 0xFFFF_FFFF, 7])
    day = 86_400_000
    send_at = np.sort(rng.integers(start_ms + 7 * day, end_ms - day // 4, size=CAMPAIGN_COUNT))
    # Campaigns go out in the morning or early evening, Moscow time (UTC+3).
    send_at = send_at - send_at % day + rng.choice([6, 7, 8, 14, 15], CAMPAIGN_COUNT) * 3_600_000
    send_at = np.minimum(send_at, end_ms - day // 4)
    channel = rng.choice(3, size=CAMPAIGN_COUNT, p=[0.65, 0.2, 0.15])
    resource = rng.choice(2, size=CAMPAIGN_COUNT, p=[0.4, 0.6])
    ids = [f"cmp-{number:04d}" for number in range(1, CAMPAIGN_COUNT + 1)]
    return Campaigns(pa.array(ids, pa.string()), channel, resource, send_at)


@dataclass(frozen=True)
class Traffic:
    """Where sessions come from: parallel arrays, row 0 is direct traffic."""

    utm_source: pa.Array
    utm_medium: pa.Array
    utm_campaign: pa.Array
    utm_content: pa.Array
    utm_term: pa.Array
    referrer: pa.Array
    query: pa.Array  # "?utm_source=…" added to the landing URL, or null
    web_cdf: np.ndarray
    app_cdf: np.ndarray


def build_traffic(campaigns: Campaigns) -> Traffic:
    # (utm_source, utm_medium, utm_campaign, utm_content, utm_term, referrer, web weight, app)
    rows: list[tuple[str | None, str | None, str | None, str | None, str | None, str | None]] = []
    web_weights: list[float] = []
    app_weights: list[float] = []

    def add(group_web: float, group_app: float, group: list[tuple[str | None, ...]]) -> None:
        for row in group:
            rows.append(row)  # type: ignore[arg-type]
            web_weights.append(group_web / len(group))
            app_weights.append(group_app / len(group))

    add(35.0, 75.0, [(None, None, None, None, None, None)])
    add(
        25.0,
        0.0,
        [
            (None, None, None, None, None, "https://www.google.com/"),
            (None, None, None, None, None, "https://yandex.ru/"),
            (None, None, None, None, None, "https://yandex.ru/"),
            (None, None, None, None, None, "https://www.bing.com/"),
        ],
    )
    add(
        3.0,
        0.0,
        [
            (None, None, None, None, None, "https://pikabu.ru/"),
            (None, None, None, None, None, "https://habr.com/"),
            (None, None, None, None, None, "https://dzen.ru/"),
        ],
    )
    social: list[tuple[str | None, ...]] = []
    for source, referrer in (
        ("vk", "https://vk.com/"),
        ("facebook", "https://www.facebook.com/"),
        ("telegram", "https://t.me/"),
    ):
        social.append((None, None, None, None, None, referrer))
        for campaign in ("spring_promo", "giveaway", "new_collection"):
            social.append((source, "social", campaign, "post", None, referrer))
    add(10.0, 3.0, social)
    email: list[tuple[str | None, ...]] = []
    email_referrers = (None, "https://e.mail.ru/", "https://mail.yandex.ru/", None)
    for position, campaign_id in enumerate(campaigns.campaign_id.to_pylist()):
        if campaigns.channel[position] != 0:
            continue
        for content in ("header_banner", "cta_button", "footer_link"):
            came_from = email_referrers[(position + len(content)) % len(email_referrers)]
            email.append(("herald", "email", campaign_id, content, None, came_from))
    add(12.0, 12.0, email)
    cpc: list[tuple[str | None, ...]] = []
    for source, referrer in (
        ("google", "https://www.google.com/"),
        ("yandex", "https://yandex.ru/"),
    ):
        for campaign, terms in (
            ("brand", ("полка", "polka магазин")),
            ("smartphones_search", ("купить смартфон", "смартфон недорого")),
            ("sneakers_search", ("кроссовки мужские", "кроссовки для бега")),
            ("black_friday", ("черная пятница скидки",)),
            ("retargeting", (None,)),
        ):
            for term in terms:
                medium = "cpc" if campaign != "retargeting" else "display"
                cpc.append((source, medium, campaign, None, term, referrer))
    add(15.0, 10.0, cpc)

    def column(index: int) -> pa.Array:
        return pa.array([row[index] for row in rows], pa.string())

    queries: list[str | None] = []
    for row in rows:
        pairs = [
            (name, value)
            for name, value in zip(
                ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"),
                row[:5],
                strict=True,
            )
            if value is not None
        ]
        queries.append("?" + "&".join(f"{n}={quote(v)}" for n, v in pairs) if pairs else None)
    web = np.array(web_weights)
    app = np.array(app_weights)
    return Traffic(
        utm_source=column(0),
        utm_medium=column(1),
        utm_campaign=column(2),
        utm_content=column(3),
        utm_term=column(4),
        referrer=column(5),
        query=pa.array(queries, pa.string()),
        web_cdf=np.cumsum(web / web.sum()),
        app_cdf=np.cumsum(app / app.sum()),
    )
