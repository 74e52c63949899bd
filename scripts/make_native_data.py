"""Write the data files of the native suite into notebooks/native/data/ (deterministic).

    /opt/cibench/kernels/default/bin/python scripts/make_native_data.py   # any Python with pandas + openpyxl

Every file is made from a fixed seed, so running this again gives identical bytes (the xlsx
too: openpyxl's workbook timestamps are pinned). Tasks that use datasets shipped inside packages
(sklearn, seaborn's offline copies, skimage.data) need nothing from here.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent.parent / "notebooks" / "native" / "data"


def orders() -> None:
    """Raw shop orders with duplicates, missing values and messy text (cleaning task)."""
    rng = np.random.default_rng(101)
    n = 300
    products = {"Notebook": ("Stationery", 3.5), "Pen": ("Stationery", 1.2),
                "Backpack": ("Bags", 39.0), "Tote": ("Bags", 15.0),
                "Lamp": ("Home", 24.0), "Mug": ("Home", 8.5)}
    names = list(products)
    prod = rng.choice(names, n)
    dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 182, n), unit="D")
    qty = rng.integers(1, 8, n).astype(float)
    price = np.array([products[p][1] for p in prod])
    city = rng.choice(["berlin", " Berlin", "Hamburg", "hamburg ", "Munich", "MUNICH"], n)
    df = pd.DataFrame({"order_id": np.arange(1001, 1001 + n), "date": dates.strftime("%Y-%m-%d"),
                       "product": prod, "category": [products[p][0] for p in prod],
                       "city": city, "quantity": qty, "unit_price": price})
    miss = rng.choice(n, 15, replace=False)
    df.loc[miss, "quantity"] = np.nan
    dup = df.iloc[rng.choice(n, 12, replace=False)]
    df = pd.concat([df, dup]).sort_values("order_id", kind="stable").reset_index(drop=True)
    df.to_csv(OUT / "orders_raw.csv", index=False)


def survey() -> None:
    """Employee survey in an Excel workbook: two sheets (responses, departments)."""
    rng = np.random.default_rng(202)
    n = 180
    depts = ["Engineering", "Sales", "Support", "Finance"]
    dep = rng.choice(depts, n, p=[0.4, 0.25, 0.2, 0.15])
    years = rng.integers(0, 21, n)
    sat = np.clip(np.round(3 + 0.06 * years + rng.normal(0, 0.9, n)
                           + np.where(dep == "Support", -0.6, 0.0)), 1, 5).astype(int)
    remote = rng.choice(["yes", "no"], n, p=[0.55, 0.45])
    resp = pd.DataFrame({"employee_id": np.arange(1, n + 1), "department": dep,
                         "years_at_company": years, "satisfaction": sat, "remote": remote})
    dinfo = pd.DataFrame({"department": depts, "floor": [3, 1, 2, 4],
                          "budget_keur": [1200, 800, 450, 600]})
    path = OUT / "survey.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        resp.to_excel(xw, sheet_name="responses", index=False)
        dinfo.to_excel(xw, sheet_name="departments", index=False)
        fixed = dt.datetime(2024, 1, 1)
        xw.book.properties.created = fixed
        xw.book.properties.modified = fixed
    _pin_zip_times(path)


def _pin_zip_times(path: Path) -> None:
    """Rewrite a zip (xlsx) with fixed member timestamps so the bytes are reproducible."""
    import zipfile
    with zipfile.ZipFile(path) as zin:
        items = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in items:
            if name == "docProps/core.xml":  # openpyxl stamps the save time here
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*",
                              rb"\g<1>2024-01-01T00:00:00Z", data)
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)


def vibration() -> None:
    """A sensor signal sampled at 500 Hz: 12 Hz and 40 Hz tones plus noise and a few spikes."""
    rng = np.random.default_rng(303)
    fs = 500
    t = np.arange(0, 4, 1 / fs)
    x = 1.0 * np.sin(2 * np.pi * 12 * t) + 0.5 * np.sin(2 * np.pi * 40 * t)
    x += rng.normal(0, 0.3, t.size)
    x[[400, 1100, 1650]] += [4.0, -4.5, 5.0]
    pd.DataFrame({"time_s": np.round(t, 4), "accel": np.round(x, 5)}).to_csv(
        OUT / "vibration.csv", index=False)


def reviews() -> None:
    """Short product reviews with a star rating (text task). Sentences from templates."""
    rng = np.random.default_rng(404)
    good = ["great battery life and a bright screen", "fast delivery and solid build",
            "the sound quality is excellent", "works perfectly, would buy again",
            "very comfortable and easy to use", "excellent value for the price",
            "the camera is great in low light", "setup was quick and simple"]
    bad = ["the battery died after two days", "screen cracked and support was slow",
           "terrible sound and cheap plastic", "stopped working after a week",
           "the charger is broken and the box was damaged", "poor quality, not worth the price",
           "slow delivery and the app keeps crashing", "the buttons are stiff and noisy"]
    products = ["headphones", "phone", "speaker", "tablet"]
    rows = []
    for i in range(240):
        rating = int(rng.choice([1, 2, 3, 4, 5], p=[0.15, 0.15, 0.15, 0.25, 0.3]))
        pool = good if rating >= 4 else bad if rating <= 2 else good + bad
        k = int(rng.integers(1, 4))
        parts = list(rng.choice(pool, k, replace=False))
        text = ". ".join(p.capitalize() for p in parts) + "!"
        rows.append({"review_id": i + 1, "product": str(rng.choice(products)),
                     "rating": rating, "text": text})
    pd.DataFrame(rows).to_csv(OUT / "reviews.csv", index=False)


def traffic() -> None:
    """Daily website visits for 2023 with trend, weekly seasonality and a few missing days."""
    rng = np.random.default_rng(505)
    days = pd.date_range("2023-01-01", "2023-12-31", freq="D")
    trend = np.linspace(1000, 1600, days.size)
    weekly = np.where(days.day_of_week >= 5, -250, 60)
    visits = np.round(trend + weekly + rng.normal(0, 60, days.size)).astype(float)
    visits[rng.choice(days.size, 9, replace=False)] = np.nan
    signups = np.round(visits * 0.031 + rng.normal(0, 3, days.size))
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "visits": visits,
                  "signups": signups}).to_csv(OUT / "traffic.csv", index=False)


def ab_test() -> None:
    """An A/B test: one row per user with variant, conversion and spend."""
    rng = np.random.default_rng(606)
    n = 4000
    variant = rng.choice(["A", "B"], n)
    p = np.where(variant == "A", 0.10, 0.125)
    converted = (rng.random(n) < p).astype(int)
    spend = np.where(converted == 1, np.round(rng.gamma(4, 12, n), 2), 0.0)
    device = rng.choice(["mobile", "desktop"], n, p=[0.6, 0.4])
    pd.DataFrame({"user_id": np.arange(1, n + 1), "variant": variant, "device": device,
                  "converted": converted, "spend": spend}).to_csv(OUT / "ab_test.csv", index=False)


def scores() -> None:
    """学生成绩: 120 students, three subjects, class, a few missing marks."""
    rng = np.random.default_rng(707)
    n = 120
    cls = rng.choice(["1班", "2班", "3班"], n)
    base = rng.normal(72, 10, n)
    math = np.clip(np.round(base + rng.normal(0, 8, n) + np.where(cls == "2班", 5, 0)), 0, 100)
    chinese = np.clip(np.round(base + rng.normal(2, 7, n)), 0, 100)
    english = np.clip(np.round(base + rng.normal(-1, 9, n)), 0, 100)
    df = pd.DataFrame({"学号": [f"S{i:03d}" for i in range(1, n + 1)], "班级": cls,
                       "数学": math, "语文": chinese, "英语": english})
    df.loc[rng.choice(n, 6, replace=False), "英语"] = np.nan
    df.to_csv(OUT / "scores.csv", index=False)


def air_quality() -> None:
    """Hourly PM2.5 and temperature for two cities over 90 days (zh task)."""
    rng = np.random.default_rng(808)
    hours = pd.date_range("2024-01-01", periods=90 * 24, freq="h")
    rows = []
    for city, level in [("北京", 60.0), ("上海", 42.0)]:
        daily = 15 * np.sin(2 * np.pi * (hours.hour - 8) / 24)
        slow = 20 * np.sin(2 * np.pi * np.arange(hours.size) / (24 * 17))
        pm = np.clip(level + daily + slow + rng.normal(0, 8, hours.size), 3, None)
        temp = 2 + 10 * np.arange(hours.size) / hours.size + 4 * np.sin(
            2 * np.pi * (hours.hour - 14) / 24) + rng.normal(0, 1.0, hours.size)
        rows.append(pd.DataFrame({"时间": hours.strftime("%Y-%m-%d %H:00"), "城市": city,
                                  "PM25": np.round(pm, 1), "气温": np.round(temp, 1)}))
    pd.concat(rows, ignore_index=True).to_csv(OUT / "air_quality.csv", index=False)


def houses() -> None:
    """房价: synthetic housing data for a regression task (zh)."""
    rng = np.random.default_rng(909)
    n = 500
    area = np.round(rng.uniform(35, 160, n), 1)
    rooms = np.clip(np.round(area / 35 + rng.normal(0, 0.6, n)), 1, 5).astype(int)
    age = rng.integers(0, 40, n)
    district = rng.choice(["朝阳", "海淀", "丰台", "通州"], n)
    bonus = pd.Series(district).map({"朝阳": 1.2, "海淀": 1.35, "丰台": 0.95, "通州": 0.8}).to_numpy()
    price = np.round((area * 5.2 * bonus + rooms * 12 - age * 1.1 + rng.normal(0, 25, n)), 1)
    pd.DataFrame({"面积": area, "房间数": rooms, "房龄": age, "区域": district,
                  "总价万元": price}).to_csv(OUT / "houses.csv", index=False)


def churn() -> None:
    """Telecom customers with churn label (classification with lightgbm / sklearn)."""
    rng = np.random.default_rng(111)
    n = 1200
    tenure = rng.integers(1, 73, n)
    monthly = np.round(rng.uniform(20, 110, n), 2)
    contract = rng.choice(["month", "one_year", "two_year"], n, p=[0.5, 0.3, 0.2])
    tickets = rng.poisson(1.2, n)
    logit = (-1.2 - 0.04 * tenure + 0.025 * monthly + 0.45 * tickets
             + np.where(contract == "month", 1.0, np.where(contract == "one_year", -0.3, -1.2)))
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    pd.DataFrame({"customer_id": [f"C{i:04d}" for i in range(n)], "tenure_months": tenure,
                  "monthly_charges": monthly, "contract": contract,
                  "support_tickets": tickets, "churned": churned}).to_csv(
        OUT / "churn.csv", index=False)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for make in (orders, survey, vibration, reviews, traffic, ab_test, scores, air_quality,
                 houses, churn):
        make()
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total / 1024:.0f} KiB, to {OUT}")


if __name__ == "__main__":
    main()
