"""The studio's app side: what the pages share, and the only place besides them that imports Streamlit.

One job per module, so a page's imports say what it uses: ``layout`` (page setup, navigation, model picker),
``state`` (controls bound to the URL, locked mode), ``models`` (cached models and one cached function per
result), ``sentences``, ``display``, ``downloads``, ``uploads``, ``beam_player``, ``search_panel``,
``labs``, ``train_form``, ``run_monitor``, ``corpora``, ``model_card`` and ``paths``. Pages import modules,
not names (``from studio import models`` then ``models.attention(...)``); ``nmt_core`` never imports this.
"""
