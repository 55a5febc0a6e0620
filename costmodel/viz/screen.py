"""The screen the app's layout estimates are made for: a 1500 px Chromium window with the sidebar open, whose
main column is about 1040 px wide with st.columns 16 px apart (measured in docs/screenshots). Figures, rows of
metrics and charts side by side are sized from these two numbers."""
MAIN_COLUMN_PX = 1040
COLUMN_GAP_PX = 16  # Streamlit's "small" gap between st.columns
