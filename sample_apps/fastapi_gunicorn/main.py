"""A FastAPI app run by gunicorn with uvicorn workers (see the Procfile)."""

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

app = FastAPI(title="fastapi_gunicorn")


class Item(BaseModel):
    id: int
    name: str
    price: float


ITEMS = {
    1: Item(id=1, name="Standard-1X dyno", price=25.0),
    2: Item(id=2, name="Standard-2X dyno", price=50.0),
}


@app.get("/")
async def index() -> dict[str, str]:
    return {"app": "fastapi_gunicorn", "message": "Hello from Heroku!"}


@app.get("/items/{item_id}")
async def read_item(item_id: int) -> Item:
    item = ITEMS.get(item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="Item not found")
    return item
