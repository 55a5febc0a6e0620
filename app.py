"""The cost lab's web app: `streamlit run app.py` serves the Home page (home.py) and pages/.

Served as Streamlit's ASGI app (st.App) for one reason: its lifespan runs when the server starts, before any
visitor, so the cache of the slowest panels is warmed there (costmodel/app/startup.py) instead of at the
first visit.
"""
import streamlit as st

from costmodel.app.startup import lifespan

app = st.App("home.py", lifespan=lifespan)
