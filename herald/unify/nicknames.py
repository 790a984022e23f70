"""Diminutives and nicknames of common given names, to their full forms.

People give `Саша` to one shop and `Александр` to another, `Jim` here and `James` there.
The table is general knowledge, not tuned to any data set; `canonical_given` maps a given
name (any script) to the skeleton of its full form, or to its own skeleton when unknown.
Ambiguous diminutives (`Саша`: Александр or Александра; `Гоша`: Георгий or Игорь) map to
the first full form listed; family names and birth dates still have their say.
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
    "Андрей": ("Андрюша",),
    "Анна": ("Аня", "Анюта", "Нюра"),
    "Антон": ("Тоша",),
    "Артём": ("Тёма",),
    "Борис": ("Боря",),
    "Вадим": ("Вадик",),
    "Валентина": ("Валя",),
    "Валерий": ("Валера",),
    "Варвара": ("Варя",),
    "Василий": ("Вася",),
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
    "Иван": ("Ваня",),
    "Илья": ("Илюша",),
    "Ирина": ("Ира",),
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
    "Andrew": ("Andy", "Drew"),
    "Anthony": ("Tony",),
    "Barbara": ("Barb", "Babs"),
    "Benjamin": ("Ben", "Benny"),
    "Catherine": ("Cathy", "Kate", "Katie", "Katherine", "Kathryn"),
    "Charles": ("Charlie", "Chuck"),
    "Christina": ("Tina", "Chris", "Christine"),
    "Christopher": ("Chris",),
    "Daniel": ("Dan", "Danny"),
    "David": ("Dave",),
    "Deborah": ("Debbie", "Deb"),
    "Diana": ("Di",),
    "Donald": ("Don",),
    "Edward": ("Ed", "Eddie", "Ted"),
    "Elizabeth": ("Liz", "Lizzie", "Beth", "Betty", "Eliza"),
    "Emily": ("Em", "Emmy"),
    "Gregory": ("Greg",),
    "Isabella": ("Bella", "Izzy", "Isabel"),
    "Jacob": ("Jake",),
    "James": ("Jim", "Jimmy", "Jamie"),
    "Jennifer": ("Jen", "Jenny"),
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
    "Nicholas": ("Nick", "Nicky"),
    "Olivia": ("Liv", "Livvy"),
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
def _canonical() -> dict[str, str]:
    # Full forms first: a diminutive whose skeleton is also a full name keeps the full name.
    table = {skeleton(full): skeleton(full) for full in FULL_FORMS}
    for full, shorts in FULL_FORMS.items():
        for short in shorts:
            table.setdefault(skeleton(short), skeleton(full))
    return table


@lru_cache(maxsize=100_000)
def canonical_given(given_key: str) -> str:
    """The skeleton of a given name's full form: `sasha` → `aleksandr`."""
    return _canonical().get(given_key, given_key)
