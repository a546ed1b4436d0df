"""Badge classes: the typed model, the file format, the EU profile and the OB 3.0 ``Achievement``.

A badge class is what an institution defines once and issues many times. Merkki keeps its texts
in Finnish, Swedish and English (DESIGN.md "Languages") and, for ``achievementType``
``MicroCredential``, every element the EU Council Recommendation 2022/C 243/02 (Annex I) makes
mandatory (DESIGN.md "EU micro-credential profile"; ob3-facts.md §8).

Each name lives in one module, imported from there:

* ``model``: ``BadgeClassData`` and its parts (``LocalizedText``, ``Workload``, ...), the
  achievement types and competence areas, ``missing_translations``;
* ``fields``: ``FieldError`` and the reader of single fields of the file format;
* ``fileformat``: ``validate_badge_class``, ``parse_badge_class``, ``badge_class_to_dict``,
  ``BadgeClassError`` and the templates on disk (``load_badge_templates``);
* ``eu_profile``: the Annex I elements (``MANDATORY_EU_FIELDS``), the MicroCredential rule and
  ``eu_facts`` for pages;
* ``achievement``: ``achievement_json``, the OB 3.0 ``Achievement`` in one language.
"""
