"""Small inline word lists the sample data is drawn from: names, cities, mailbox domains.

Every list is a tuple so it is the same on every run; the generator draws indices into them.
Names come with the spellings real sources disagree on: a Latin transliteration (two common
systems), a diminutive, a typo and the "е for ё" spelling.
"""

from __future__ import annotations

# --- Russian first names: (full name, diminutive) ------------------------------------------
RU_MALE_FIRST: tuple[tuple[str, str], ...] = (
    ("Александр", "Саша"),
    ("Дмитрий", "Дима"),
    ("Максим", "Макс"),
    ("Сергей", "Серёжа"),
    ("Андрей", "Андрюша"),
    ("Алексей", "Лёша"),
    ("Артём", "Тёма"),
    ("Илья", "Илюша"),
    ("Кирилл", "Кирюша"),
    ("Михаил", "Миша"),
    ("Никита", "Никитос"),
    ("Матвей", "Мотя"),
    ("Роман", "Рома"),
    ("Егор", "Егорка"),
    ("Арсений", "Сеня"),
    ("Иван", "Ваня"),
    ("Денис", "Дэн"),
    ("Евгений", "Женя"),
    ("Даниил", "Даня"),
    ("Тимофей", "Тима"),
    ("Владислав", "Влад"),
    ("Игорь", "Гоша"),
    ("Владимир", "Вова"),
    ("Павел", "Паша"),
    ("Руслан", "Руся"),
    ("Марк", "Марик"),
    ("Константин", "Костя"),
    ("Тимур", "Тима"),
    ("Олег", "Олежка"),
    ("Ярослав", "Ярик"),
    ("Антон", "Тоша"),
    ("Николай", "Коля"),
    ("Глеб", "Глебушка"),
    ("Савелий", "Сава"),
    ("Вадим", "Вадик"),
    ("Степан", "Стёпа"),
    ("Юрий", "Юра"),
    ("Богдан", "Бодя"),
    ("Артур", "Арчи"),
    ("Виктор", "Витя"),
    ("Василий", "Вася"),
    ("Григорий", "Гриша"),
    ("Фёдор", "Федя"),
    ("Леонид", "Лёня"),
    ("Станислав", "Стас"),
    ("Георгий", "Жора"),
    ("Вячеслав", "Слава"),
    ("Анатолий", "Толя"),
    ("Геннадий", "Гена"),
    ("Семён", "Сёма"),
)

RU_FEMALE_FIRST: tuple[tuple[str, str], ...] = (
    ("Анастасия", "Настя"),
    ("Мария", "Маша"),
    ("Анна", "Аня"),
    ("Виктория", "Вика"),
    ("Екатерина", "Катя"),
    ("Наталья", "Наташа"),
    ("Марина", "Мариша"),
    ("Полина", "Поля"),
    ("Елена", "Лена"),
    ("Дарья", "Даша"),
    ("Алина", "Аля"),
    ("Ирина", "Ира"),
    ("Ксения", "Ксюша"),
    ("Ольга", "Оля"),
    ("Татьяна", "Таня"),
    ("Юлия", "Юля"),
    ("Светлана", "Света"),
    ("Александра", "Саша"),
    ("Елизавета", "Лиза"),
    ("Валерия", "Лера"),
    ("Софья", "Соня"),
    ("Кристина", "Кристи"),
    ("Вероника", "Ника"),
    ("Алёна", "Алёнка"),
    ("Евгения", "Женя"),
    ("Диана", "Ди"),
    ("Карина", "Кариша"),
    ("Ангелина", "Геля"),
    ("Людмила", "Люда"),
    ("Надежда", "Надя"),
    ("Галина", "Галя"),
    ("Любовь", "Люба"),
    ("Вера", "Верочка"),
    ("Оксана", "Ксана"),
    ("Арина", "Ариша"),
    ("Милана", "Мила"),
    ("Ульяна", "Уля"),
    ("Валентина", "Валя"),
    ("Яна", "Яночка"),
    ("Маргарита", "Рита"),
    ("Нина", "Ниночка"),
    ("Лариса", "Лара"),
    ("Жанна", "Жанночка"),
    ("Василиса", "Вася"),
    ("Варвара", "Варя"),
    ("Злата", "Златка"),
    ("Эвелина", "Эля"),
    ("Кира", "Кирочка"),
    ("Майя", "Мая"),
    ("Таисия", "Тая"),
)

# Surnames in the masculine form; feminine forms are derived (Иванов → Иванова,
# Островский → Островская, Толстой → Толстая; Шевченко, Черных, Ким do not change).
RU_SURNAMES: tuple[str, ...] = (
    "Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов",
    "Новиков", "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров",
    "Павлов", "Козлов", "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин",
    "Захаров", "Зайцев", "Соловьёв", "Борисов", "Яковлев", "Григорьев", "Романов",
    "Воробьёв", "Сергеев", "Кузьмин", "Фролов", "Александров", "Дмитриев", "Королёв",
    "Гусев", "Киселёв", "Ильин", "Максимов", "Поляков", "Сорокин", "Виноградов", "Ковалёв",
    "Белов", "Медведев", "Антонов", "Тарасов", "Жуков", "Баранов", "Филиппов", "Комаров",
    "Давыдов", "Беляев", "Герасимов", "Богданов", "Осипов", "Сидоров", "Матвеев", "Титов",
    "Марков", "Миронов", "Крылов", "Куликов", "Карпов", "Власов", "Мельников", "Денисов",
    "Гаврилов", "Тихонов", "Казаков", "Афанасьев", "Данилов", "Савельев", "Тимофеев",
    "Фомин", "Чернов", "Абрамов", "Мартынов", "Ефимов", "Щербаков", "Назаров", "Калинин",
    "Исаев", "Чернышёв", "Быков", "Маслов", "Пономарёв", "Журавлёв", "Голубев",
    "Вишневский", "Островский", "Каменский", "Савицкий", "Высоцкий", "Толстой",
    "Шевченко", "Бондаренко", "Черных", "Ким",
)  # fmt: skip

# --- English first names: (full name, diminutive) ------------------------------------------
EN_MALE_FIRST: tuple[tuple[str, str], ...] = (
    ("James", "Jim"), ("John", "Johnny"), ("Robert", "Bob"), ("Michael", "Mike"),
    ("William", "Bill"), ("David", "Dave"), ("Richard", "Rick"), ("Joseph", "Joe"),
    ("Thomas", "Tom"), ("Charles", "Charlie"), ("Christopher", "Chris"), ("Daniel", "Dan"),
    ("Matthew", "Matt"), ("Anthony", "Tony"), ("Mark", "Marky"), ("Donald", "Don"),
    ("Steven", "Steve"), ("Paul", "Paulie"), ("Andrew", "Andy"), ("Joshua", "Josh"),
    ("Kenneth", "Ken"), ("Kevin", "Kev"), ("Brian", "Bri"), ("George", "Georgie"),
    ("Timothy", "Tim"), ("Ronald", "Ron"), ("Edward", "Ed"), ("Jason", "Jay"),
    ("Jeffrey", "Jeff"), ("Ryan", "Ry"), ("Jacob", "Jake"), ("Gary", "Gaz"),
    ("Nicholas", "Nick"), ("Eric", "Rick"), ("Jonathan", "Jon"), ("Stephen", "Steve"),
    ("Lawrence", "Larry"), ("Justin", "Jus"), ("Scott", "Scotty"), ("Brandon", "Bran"),
    ("Benjamin", "Ben"), ("Samuel", "Sam"), ("Oliver", "Ollie"), ("Harry", "Haz"),
    ("Jack", "Jackie"), ("Noah", "No"), ("Leo", "Lee"), ("Oscar", "Ozzy"),
    ("Henry", "Hank"), ("Alexander", "Alex"),
)  # fmt: skip

EN_FEMALE_FIRST: tuple[tuple[str, str], ...] = (
    ("Mary", "Molly"), ("Patricia", "Patty"), ("Jennifer", "Jen"), ("Linda", "Lindy"),
    ("Elizabeth", "Liz"), ("Barbara", "Barb"), ("Susan", "Sue"), ("Jessica", "Jess"),
    ("Sarah", "Sally"), ("Karen", "Kaz"), ("Lisa", "Lis"), ("Nancy", "Nan"),
    ("Margaret", "Maggie"), ("Sandra", "Sandy"), ("Ashley", "Ash"), ("Kimberly", "Kim"),
    ("Emily", "Em"), ("Donna", "Don"), ("Michelle", "Shelly"), ("Caroline", "Carrie"),
    ("Amanda", "Mandy"), ("Dorothy", "Dot"), ("Melissa", "Mel"), ("Deborah", "Debbie"),
    ("Stephanie", "Steph"), ("Rebecca", "Becky"), ("Sharon", "Shaz"), ("Laura", "Laurie"),
    ("Cynthia", "Cindy"), ("Katherine", "Kathy"), ("Amy", "Ames"), ("Angela", "Angie"),
    ("Anna", "Annie"), ("Brenda", "Bren"), ("Pamela", "Pam"), ("Emma", "Emmy"),
    ("Nicole", "Nikki"), ("Helen", "Nell"), ("Samantha", "Sam"), ("Christine", "Chris"),
    ("Rachel", "Rach"), ("Olivia", "Liv"), ("Sophie", "Soph"), ("Charlotte", "Lottie"),
    ("Amelia", "Millie"), ("Isabella", "Bella"), ("Victoria", "Vicky"), ("Abigail", "Abby"),
    ("Jacqueline", "Jackie"), ("Alexandra", "Alex"),
)  # fmt: skip

EN_SURNAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson",
    "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Nelson",
    "Carter", "Mitchell", "Roberts", "Turner", "Phillips", "Campbell", "Parker", "Evans",
    "Edwards", "Collins", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Cooper",
    "Peterson", "Reed", "Bailey", "Bell", "Kelly", "Howard", "Ward", "Cox", "Richardson",
    "Wood", "Watson", "Brooks", "Bennett", "Gray", "Hughes", "Price", "Sanders", "Myers",
    "Long", "Ross", "Foster", "O'Brien", "O'Connor", "MacDonald", "Fitzgerald", "Sullivan",
    "Murray", "Patel", "Khan", "Müller", "Schmidt", "Dubois", "Rossi", "Novak", "Kowalski",
    "Jansen", "Fischer", "Weber", "Nguyen", "Cohen", "Singh", "Larsen", "Bianchi", "Moreau",
    "Lambert", "Fernandes", "Silva", "Hansen",
)  # fmt: skip

# --- Cities: (name as written locally, Latin name, relative weight) -------------------------
RU_CITIES: tuple[tuple[str, str, float], ...] = (
    ("Москва", "Moscow", 30.0), ("Санкт-Петербург", "Saint Petersburg", 14.0),
    ("Новосибирск", "Novosibirsk", 4.0), ("Екатеринбург", "Yekaterinburg", 4.0),
    ("Казань", "Kazan", 3.5), ("Нижний Новгород", "Nizhny Novgorod", 3.0),
    ("Красноярск", "Krasnoyarsk", 3.0), ("Челябинск", "Chelyabinsk", 3.0),
    ("Самара", "Samara", 3.0), ("Уфа", "Ufa", 3.0), ("Ростов-на-Дону", "Rostov-on-Don", 3.0),
    ("Краснодар", "Krasnodar", 3.0), ("Омск", "Omsk", 2.5), ("Воронеж", "Voronezh", 2.5),
    ("Пермь", "Perm", 2.5), ("Волгоград", "Volgograd", 2.5), ("Саратов", "Saratov", 2.0),
    ("Тюмень", "Tyumen", 2.0), ("Тольятти", "Tolyatti", 1.5), ("Ижевск", "Izhevsk", 1.5),
    ("Барнаул", "Barnaul", 1.5), ("Ульяновск", "Ulyanovsk", 1.5), ("Иркутск", "Irkutsk", 1.5),
    ("Хабаровск", "Khabarovsk", 1.5), ("Ярославль", "Yaroslavl", 1.5),
    ("Владивосток", "Vladivostok", 1.5), ("Махачкала", "Makhachkala", 1.5),
    ("Томск", "Tomsk", 1.2), ("Оренбург", "Orenburg", 1.2), ("Кемерово", "Kemerovo", 1.2),
    ("Рязань", "Ryazan", 1.0), ("Набережные Челны", "Naberezhnye Chelny", 1.0),
    ("Астрахань", "Astrakhan", 1.0), ("Пенза", "Penza", 1.0), ("Киров", "Kirov", 1.0),
    ("Липецк", "Lipetsk", 1.0), ("Калининград", "Kaliningrad", 1.0), ("Тула", "Tula", 1.0),
    ("Сочи", "Sochi", 1.0), ("Ставрополь", "Stavropol", 1.0), ("Курск", "Kursk", 0.8),
    ("Тверь", "Tver", 0.8), ("Мурманск", "Murmansk", 0.6), ("Архангельск", "Arkhangelsk", 0.6),
    ("Якутск", "Yakutsk", 0.6), ("Великий Новгород", "Veliky Novgorod", 0.5),
    ("Петрозаводск", "Petrozavodsk", 0.5), ("Смоленск", "Smolensk", 0.5),
)  # fmt: skip

# Colloquial names some people type instead of the official one.
RU_CITY_SLANG: dict[str, str] = {
    "Москва": "Мск",
    "Санкт-Петербург": "СПб",
    "Екатеринбург": "Екб",
    "Нижний Новгород": "Н. Новгород",
    "Ростов-на-Дону": "Ростов",
    "Новосибирск": "Нск",
}

FOREIGN_CITIES: tuple[tuple[str, str, float], ...] = (
    ("London", "Лондон", 10.0), ("Manchester", "Манчестер", 3.0),
    ("Birmingham", "Бирмингем", 3.0), ("Edinburgh", "Эдинбург", 2.0),
    ("Glasgow", "Глазго", 2.0), ("Liverpool", "Ливерпуль", 2.0), ("Bristol", "Бристоль", 2.0),
    ("New York", "Нью-Йорк", 6.0), ("Washington, D.C.", "Вашингтон", 1.0),
    ("Los Angeles", "Лос-Анджелес", 3.0), ("Chicago", "Чикаго", 2.0), ("Boston", "Бостон", 2.0),
    ("San Francisco", "Сан-Франциско", 2.0), ("Berlin", "Берлин", 3.0),
    ("Munich", "Мюнхен", 1.5), ("Paris", "Париж", 3.0), ("Amsterdam", "Амстердам", 2.0),
    ("Dublin", "Дублин", 2.0), ("Toronto", "Торонто", 2.0), ("Sydney", "Сидней", 1.5),
    ("Dubai", "Дубай", 2.0), ("Limassol", "Лимасол", 1.0), ("Tbilisi", "Тбилиси", 2.0),
    ("Yerevan", "Ереван", 2.0), ("Almaty", "Алматы", 2.0), ("Belgrade", "Белград", 1.5),
    ("Istanbul", "Стамбул", 1.5), ("Tallinn", "Таллин", 1.0), ("Riga", "Рига", 1.0),
    ("Warsaw", "Варшава", 1.0), ("Prague", "Прага", 1.5),
)  # fmt: skip

# --- Mailbox domains: (domain, relative weight, typo'd spelling) ---------------------------
RU_DOMAINS: tuple[tuple[str, float, str], ...] = (
    ("mail.ru", 30.0, "mail.ry"), ("yandex.ru", 25.0, "yandex.ry"),
    ("gmail.com", 20.0, "gmial.com"), ("bk.ru", 5.0, "bk.ry"), ("inbox.ru", 4.0, "inbox.ry"),
    ("list.ru", 4.0, "lsit.ru"), ("rambler.ru", 4.0, "rambler.ry"), ("ya.ru", 3.0, "ya.ry"),
    ("icloud.com", 3.0, "icloud.co"), ("outlook.com", 2.0, "outlok.com"),
)  # fmt: skip
EN_DOMAINS: tuple[tuple[str, float, str], ...] = (
    ("gmail.com", 40.0, "gmai.com"), ("outlook.com", 15.0, "outlook.con"),
    ("hotmail.com", 10.0, "hotmial.com"), ("yahoo.com", 12.0, "yaho.com"),
    ("icloud.com", 10.0, "icloud.co"), ("aol.com", 3.0, "aol.co"),
    ("protonmail.com", 3.0, "protonmial.com"), ("live.com", 4.0, "live.co"),
    ("btinternet.com", 3.0, "btinternet.co"),
)  # fmt: skip

# --- Phones ----------------------------------------------------------------------------------
# Kinds of phone number; every national number is ten digits.
PHONE_RU, PHONE_UK_LONDON, PHONE_UK_MOBILE, PHONE_US = 0, 1, 2, 3
# Templates by kind and writing style; '#' takes the next digit of the national number.
# Styles: 0 international with spaces, 1 E.164, 2 national with spaces, 3 national compact,
# 4 another common shape.
PHONE_TEMPLATES: tuple[tuple[str, str, str, str, str], ...] = (
    ("+7 (###) ###-##-##", "+7##########", "8 ### ### ## ##", "8##########", "8 (###) ###-##-##"),
    ("+44 ## #### ####", "+44##########", "0## #### ####", "0##########", "+44 (0)## #### ####"),
    ("+44 #### ######", "+44##########", "0#### ######", "0##########", "+44 (0)#### ######"),
    ("+1 (###) ###-####", "+1##########", "(###) ###-####", "1##########", "###-###-####"),
)
PHONE_STYLE_E164 = 1
US_AREA_CODES: tuple[int, ...] = (212, 646, 718, 310, 415, 617, 312, 202, 305, 206, 512, 303)
# Mobile operators by phone kind, named as a message provider would report them.
SMS_OPERATORS: tuple[tuple[str, ...], ...] = (
    ("mts", "megafon", "beeline", "tele2"),
    ("bt", "virgin"),
    ("vodafone", "ee", "o2", "three"),
    ("verizon", "att", "tmobile"),
)

# --- Transliteration ---------------------------------------------------------------------------
_TRANSLIT: dict[str, str] = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya",
}  # fmt: skip
# A second, looser system people also use (Aleksandr / Alexandr, Yulia / Iuliia ...).
_TRANSLIT_ALT: dict[str, str] = {
    **_TRANSLIT, "х": "h", "й": "i", "ю": "iu", "я": "ia", "ё": "yo", "ц": "c", "щ": "sch",
    "ь": "'",
}  # fmt: skip
_ASCII_FOLD: dict[str, str] = {"ü": "u", "ö": "o", "ä": "a", "é": "e", "'": "", " ": ""}


def transliterate(text: str, alt: bool = False) -> str:
    """Latin spelling of a Russian word, keeping the capital letter."""
    table = _TRANSLIT_ALT if alt else _TRANSLIT
    out: list[str] = []
    for char in text:
        lower = char.lower()
        if lower in table:
            latin = table[lower]
            out.append(latin.capitalize() if char != lower else latin)
        else:
            out.append(char)
    word = "".join(out)
    if alt:
        word = word.replace("ks", "x").replace("Ks", "X")
    return word


def ascii_local(text: str) -> str:
    """Lowercase ASCII form used in mailbox names."""
    word = transliterate(text).lower()
    return "".join(_ASCII_FOLD.get(char, char) for char in word)


def feminine_surname(surname: str) -> str:
    """The feminine form of a Russian surname."""
    if surname.endswith(("ский", "цкий")):
        return surname[:-2] + "ая"
    if surname.endswith("ой"):
        return surname[:-2] + "ая"
    if surname.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return surname + "а"
    return surname


def typo(word: str) -> str:
    """The word with two neighbouring letters swapped (or the last letter doubled)."""
    if len(word) < 4:
        return word + word[-1]
    middle = len(word) // 2
    return word[: middle - 1] + word[middle] + word[middle - 1] + word[middle + 1 :]


def without_yo(word: str) -> str:
    return word.replace("ё", "е").replace("Ё", "Е")
