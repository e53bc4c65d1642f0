"""The baseline: a bare FastAPI endpoint with no database, auth or response model, served the same way."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, str]:
    return {"status": "ok"}
