"""Diminutives and nicknames of common given names, to their full forms.

People give `Саша` to one shop and `Александр` to another, `Jim` here and `James` there.
The table is general knowledge, not tuned to any data set; `canonical_given` maps a given
name (any script) to the skeleton of its full form, or to its own skeleton when unknown.
Ambiguous diminutives (`Саша`: Александр or Александра; `Гоша`: Георгий or Игорь) keep
their first two full forms (`given_forms`); blocking uses the first, comparison both.
"""

from __future__ import annotations

from functools import lru_cache

from herald.unify.names import skeleton

FULL_FORMS: dict[str, tuple[str, ...]] = {
    # Russian
    "Александр": ("Саша", "Саня", "Шура", "Алекс", "Sasha", "Alex"),
    "Александра": ("Саша", "Шура", "Sasha"),
    "Алексей": ("Алёша", "Лёша", "Лёха"),
    "Анастасия": ("Настя", "Стася"),
    "Анатолий": ("Толя",),
    "Ангелина": ("Геля", "Лина"),
    "Андрей": ("Андрюша",),
    "Анна": ("Аня", "Анюта", "Нюра"),
    "Антон": ("Тоша",),
    "Арина": ("Ариша",),
    "Арсений": ("Сеня", "Арсюша"),
    "Артём": ("Тёма",),
    "Борис": ("Боря",),
    "Вадим": ("Вадик",),
    "Валентина": ("Валя",),
    "Валерий": ("Валера",),
    "Валерия": ("Лера",),
    "Варвара": ("Варя",),
    "Василий": ("Вася",),
    "Василиса": ("Вася",),
    "Вероника": ("Ника",),
    "Виктор": ("Витя",),
    "Виктория": ("Вика",),
    "Владимир": ("Вова", "Володя"),
    "Владислав": ("Влад",),
    "Вячеслав": ("Слава",),
    "Галина": ("Галя",),
    "Георгий": ("Гоша", "Жора", "Гога"),
    "Игорь": ("Гоша",),
    "Григорий": ("Гриша",),
    "Даниил": ("Даня",),
    "Дарья": ("Даша",),
    "Денис": ("Дэн",),
    "Дмитрий": ("Дима", "Митя"),
    "Евгений": ("Женя",),
    "Евгения": ("Женя",),
    "Екатерина": ("Катя",),
    "Елена": ("Лена",),
    "Елизавета": ("Лиза",),
    "Алина": ("Аля",),
    "Эвелина": ("Эля",),
    "Иван": ("Ваня",),
    "Илья": ("Илюша",),
    "Ирина": ("Ира",),
    "Жанна": ("Жанночка",),
    "Кирилл": ("Кирюша",),
    "Константин": ("Костя",),
    "Ксения": ("Ксюша",),
    "Лев": ("Лёва",),
    "Любовь": ("Люба",),
    "Людмила": ("Люда", "Мила"),
    "Максим": ("Макс",),
    "Маргарита": ("Рита",),
    "Марина": ("Мариша",),
    "Мария": ("Маша", "Маня"),
    "Матвей": ("Мотя",),
    "Милана": ("Мила",),
    "Михаил": ("Миша",),
    "Надежда": ("Надя",),
    "Наталья": ("Наташа", "Наталия"),
    "Никита": ("Никитка",),
    "Нина": ("Ниночка",),
    "Николай": ("Коля",),
    "Ольга": ("Оля",),
    "Павел": ("Паша",),
    "Пётр": ("Петя",),
    "Полина": ("Поля",),
    "Роман": ("Рома",),
    "Светлана": ("Света",),
    "Семён": ("Сеня",),
    "Сергей": ("Серёжа",),
    "Софья": ("Соня", "София"),
    "Станислав": ("Стас",),
    "Степан": ("Стёпа",),
    "Таисия": ("Тася",),
    "Татьяна": ("Таня",),
    "Тимофей": ("Тима",),
    "Ульяна": ("Уля",),
    "Фёдор": ("Федя",),
    "Юлия": ("Юля",),
    "Юрий": ("Юра",),
    "Ярослав": ("Ярик",),
    # English
    "Abigail": ("Abby",),
    "Alexander": ("Alex", "Xander"),
    "Alexandra": ("Alex", "Sasha"),
    "Amanda": ("Mandy",),
    "Amelia": ("Millie", "Amy"),
    "Andrew": ("Andy", "Drew"),
    "Anthony": ("Tony",),
    "Barbara": ("Barb", "Babs"),
    "Benjamin": ("Ben", "Benny"),
    "Catherine": ("Cathy", "Kate", "Katie", "Katherine", "Kathryn"),
    "Charles": ("Charlie", "Chuck"),
    "Charlotte": ("Lottie", "Charlie"),
    "Christina": ("Tina", "Chris", "Christine"),
    "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"),
    "David": ("Dave",),
    "Deborah": ("Debbie", "Deb"),
    "Diana": ("Di",),
    "Donald": ("Don",),
    "Edward": ("Ed", "Eddie", "Ted"),
    "Eric": ("Rick", "Ricky"),
    "Elizabeth": ("Liz", "Lizzie", "Beth", "Betty", "Eliza"),
    "Emily": ("Em", "Emmy"),
    "Frances": ("Fran", "Frankie"),
    "Gary": ("Gaz",),
    "Gregory": ("Greg",),
    "Helen": ("Nell", "Nellie"),
    "Henry": ("Hank", "Harry"),
    "Isabella": ("Bella", "Izzy", "Isabel"),
    "Jacob": ("Jake",),
    "Jacqueline": ("Jackie",),
    "James": ("Jim", "Jimmy", "Jamie"),
    "Jennifer": ("Jen", "Jenny"),
    "Jason": ("Jay",),
    "Jessica": ("Jess", "Jessie"),
    "John": ("Johnny", "Jack"),
    "Jonathan": ("Jon",),
    "Joseph": ("Joe", "Joey"),
    "Joshua": ("Josh",),
    "Kenneth": ("Ken", "Kenny"),
    "Kimberly": ("Kim",),
    "Margaret": ("Maggie", "Meg", "Peggy"),
    "Mary": ("Molly", "Polly"),
    "Matthew": ("Matt",),
    "Megan": ("Meg",),
    "Michael": ("Mike", "Mikey", "Mick"),
    "Michelle": ("Shelly", "Shell"),
    "Nicholas": ("Nick", "Nicky"),
    "Olivia": ("Liv", "Livvy"),
    "Oscar": ("Ozzie",),
    "Patricia": ("Pat", "Patty", "Trish"),
    "Patrick": ("Pat", "Paddy"),
    "Peter": ("Pete",),
    "Rebecca": ("Becky", "Becca"),
    "Richard": ("Rick", "Rich", "Dick"),
    "Robert": ("Rob", "Bob", "Bobby", "Robbie"),
    "Ronald": ("Ron", "Ronnie"),
    "Samantha": ("Sam", "Sammy"),
    "Samuel": ("Sam", "Sammy"),
    "Sarah": ("Sadie",),
    "Sophia": ("Sophie",),
    "Stephen": ("Steve", "Steven"),
    "Susan": ("Sue", "Susie"),
    "Thomas": ("Tom", "Tommy"),
    "Timothy": ("Tim",),
    "Victoria": ("Vicky", "Tori"),
    "William": ("Will", "Bill", "Billy", "Liam"),
}


@lru_cache(maxsize=1)
def _canonical() -> dict[str, tuple[str, ...]]:
    # Full forms first: a diminutive whose skeleton is also a full name keeps the full name.
    table: dict[str, tuple[str, ...]] = {skeleton(full): (skeleton(full),) for full in FULL_FORMS}
    for full, shorts in FULL_FORMS.items():
        for short in shorts:
            key, form = skeleton(short), skeleton(full)
            forms = table.get(key, ())
            if form not in forms and (not forms or forms[0] != key):
                table[key] = (*forms, form)
    return table


@lru_cache(maxsize=100_000)
def canonical_given(given_key: str) -> str:
    """The skeleton of a given name's full form: `sasha` → `aleksandr`."""
    return given_forms(given_key)[0]


@lru_cache(maxsize=100_000)
def given_forms(given_key: str) -> tuple[str, str]:
    """The skeletons of the two first full forms a given name may stand for: `sasha` →
    (`aleksandr`, `aleksandra`); a name with one full form gives it twice. Two given names
    are one person's when their forms meet."""
    forms = _canonical().get(given_key, (given_key,))
    return forms[0], forms[1] if len(forms) > 1 else forms[0]
