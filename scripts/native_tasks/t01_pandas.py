# ruff: noqa: E501  (instructions and reference code are task text, kept as a user would write them)
from native_tasks import S, Task

orders = Task(
    "shop-orders-cleaning", "Cleaning and summarising raw shop orders", "pandas", "medium", [
        S("exec", "pandas", """
File path: `data/orders_raw.csv`.

Load the file into a pandas DataFrame called `orders` and show its first five rows.""", """
import pandas as pd
orders = pd.read_csv("data/orders_raw.csv")
orders.head()"""),
        S("num", "pandas", """
Some orders were exported twice. Count the rows of `orders` that are exact duplicates of an
earlier row (every column equal), then remove them from `orders` (keep the first occurrence).
Print the number of duplicates and then the number of rows left, separated by a space.""", """
n_dup = int(orders.duplicated().sum())
orders = orders.drop_duplicates().reset_index(drop=True)
print(n_dup, len(orders))"""),
        S("check", "pandas", """
Clean two columns of `orders` in place:
- `city`: strip surrounding spaces and write each name in title case (`Berlin`, `Hamburg`, `Munich`);
- `quantity`: fill each missing value with the median quantity of the same `product` (computed
  over the non-missing rows), then convert the column to integers (`int64`).""", """
orders["city"] = orders["city"].str.strip().str.title()
orders["quantity"] = orders["quantity"].fillna(
    orders.groupby("product")["quantity"].transform("median")).astype("int64")
orders["city"].value_counts()""", """
assert sorted(orders["city"].unique()) == ["Berlin", "Hamburg", "Munich"], orders["city"].unique()
assert orders["quantity"].notna().all() and str(orders["quantity"].dtype) == "int64"
assert len(orders) == 300
assert int(orders["quantity"].sum()) == 1160, int(orders["quantity"].sum())"""),
        S("num", "pandas", """
Add a column `revenue` to `orders` (quantity times unit_price). Print the total revenue per city,
rounded to 2 decimals, cities in alphabetical order, one `city value` pair per line.""", """
orders["revenue"] = orders["quantity"] * orders["unit_price"]
by_city = orders.groupby("city")["revenue"].sum().round(2).sort_index()
for city, value in by_city.items():
    print(city, value)"""),
        S("vis", "matplotlib", """
Convert the `date` column to datetimes. Draw a bar chart (matplotlib) of the total revenue per
calendar month, with the months labelled `YYYY-MM` in chronological order on the x axis, the
title 'Monthly revenue' and the y label 'EUR'.""", """
import matplotlib.pyplot as plt
orders["date"] = pd.to_datetime(orders["date"])
monthly = orders.groupby(orders["date"].dt.strftime("%Y-%m"))["revenue"].sum().sort_index()
plt.figure(figsize=(7, 4))
plt.bar(monthly.index, monthly.values)
plt.title("Monthly revenue")
plt.ylabel("EUR")
plt.show()"""),
        S("text", "pandas", """
Which product category brings the most revenue? Print a sentence of the form
'The top category is <category>.'""", """
top = orders.groupby("category")["revenue"].sum().idxmax()
print(f"The top category is {top}.")"""),
        S("check", "pandas", """
Save the cleaned `orders` (with the `revenue` column) to `orders_clean.csv` without the index.""", """
orders.to_csv("orders_clean.csv", index=False)""", """
import pandas as _pd
_c = _pd.read_csv("orders_clean.csv")
assert len(_c) == 300 and "revenue" in _c.columns and "Unnamed: 0" not in _c.columns
assert _c["quantity"].notna().all()
assert abs(_c["revenue"].sum() - (_c["quantity"] * _c["unit_price"]).sum()) < 1e-6"""),
    ])

survey = Task(
    "employee-survey-excel", "An employee survey in an Excel workbook", "pandas", "easy", [
        S("num", "pandas", """
File path: `data/survey.xlsx`.

Read the sheet `responses` into a DataFrame `resp` and the sheet `departments` into `depts`.
Print the number of rows and the number of columns of `resp`, separated by a space.""", """
import pandas as pd
resp = pd.read_excel("data/survey.xlsx", sheet_name="responses")
depts = pd.read_excel("data/survey.xlsx", sheet_name="departments")
print(resp.shape[0], resp.shape[1])"""),
        S("num", "pandas", """
What is the mean `satisfaction` of each department? Print it rounded to 2 decimals, sorted from
the highest to the lowest, one `department value` pair per line.""", """
mean_sat = resp.groupby("department")["satisfaction"].mean().round(2).sort_values(ascending=False)
for dep, value in mean_sat.items():
    print(dep, value)"""),
        S("check", "pandas", """
Merge `resp` with `depts` on `department` (a left join, keeping every response) into a new
DataFrame `merged`.""", """
merged = resp.merge(depts, on="department", how="left")
merged.head()""", """
assert len(merged) == 180 and {"floor", "budget_keur", "satisfaction"} <= set(merged.columns)
assert merged["floor"].notna().all()"""),
        S("num", "pandas", """
A response is "satisfied" when `satisfaction` is 4 or 5. What percentage of the remote
employees (`remote == "yes"`) and of the others are satisfied? Print the two percentages
rounded to 1 decimal, remote first, separated by a space.""", """
sat = resp["satisfaction"] >= 4
pct_remote = round(sat[resp["remote"] == "yes"].mean() * 100, 1)
pct_office = round(sat[resp["remote"] == "no"].mean() * 100, 1)
print(pct_remote, pct_office)"""),
        S("vis", "seaborn", """
Draw a seaborn bar plot of the mean satisfaction per department (departments in alphabetical
order, no error bars), titled 'Mean satisfaction by department'.""", """
import matplotlib.pyplot as plt
import seaborn as sns
plt.figure(figsize=(7, 4))
sns.barplot(data=resp, x="department", y="satisfaction",
            order=sorted(resp["department"].unique()), errorbar=None)
plt.title("Mean satisfaction by department")
plt.show()"""),
        S("num", "pandas", """
What is the Pearson correlation between `years_at_company` and `satisfaction` across all
responses? Round it to 3 decimals.""", """
round(resp["years_at_company"].corr(resp["satisfaction"]), 3)"""),
        S("check", "pandas", """
Make a pivot table `pivot` with the departments as rows, the `remote` values as columns and the
mean satisfaction (rounded to 2 decimals) as values, and write it to `satisfaction_pivot.xlsx`,
sheet `pivot` (keep the department index).""", """
pivot = resp.pivot_table(index="department", columns="remote", values="satisfaction",
                         aggfunc="mean").round(2)
pivot.to_excel("satisfaction_pivot.xlsx", sheet_name="pivot")""", """
import pandas as _pd
_p = _pd.read_excel("satisfaction_pivot.xlsx", sheet_name="pivot", index_col=0)
assert sorted(_p.index) == ["Engineering", "Finance", "Sales", "Support"], list(_p.index)
assert sorted(map(str, _p.columns)) == ["no", "yes"], list(_p.columns)
_exp = resp.pivot_table(index="department", columns="remote", values="satisfaction").round(2)
assert ((_p.sort_index()[["no", "yes"]] - _exp[["no", "yes"]]).abs() < 0.006).all().all()"""),
    ])

mpg = Task(
    "mpg-fuel-economy", "Fuel economy of classic cars (seaborn's mpg)", "pandas", "easy", [
        S("num", "pandas", """
Load seaborn's `mpg` data set with `sns.load_dataset("mpg")` into a DataFrame `cars`. How many
values of `horsepower` are missing?""", """
import seaborn as sns
cars = sns.load_dataset("mpg")
int(cars["horsepower"].isna().sum())"""),
        S("num", "pandas", """
Fill each missing `horsepower` with the median horsepower of the cars with the same number of
`cylinders`. What is the mean horsepower afterwards, rounded to 2 decimals?""", """
cars["horsepower"] = cars["horsepower"].fillna(
    cars.groupby("cylinders")["horsepower"].transform("median"))
round(cars["horsepower"].mean(), 2)"""),
        S("num", "pandas", """
Print the mean `mpg` per `origin`, rounded to 2 decimals, origins in alphabetical order, one
`origin value` pair per line.""", """
for origin, value in cars.groupby("origin")["mpg"].mean().round(2).sort_index().items():
    print(origin, value)"""),
        S("vis", "seaborn", """
Draw a seaborn regression plot (`sns.regplot`) of `mpg` (y) against `weight` (x) without a
confidence band (`ci=None`), titled 'Heavier cars use more fuel'.""", """
import matplotlib.pyplot as plt
plt.figure(figsize=(6, 4))
sns.regplot(data=cars, x="weight", y="mpg", ci=None)
plt.title("Heavier cars use more fuel")
plt.show()"""),
        S("num", "pandas", """
Among `horsepower`, `weight`, `displacement` and `acceleration`, which column has the strongest
(most negative or most positive) Pearson correlation with `mpg`? Print the column name and the
correlation rounded to 3 decimals, separated by a space.""", """
corr = cars[["mpg", "horsepower", "weight", "displacement", "acceleration"]].corr()["mpg"].drop("mpg")
best = corr.abs().idxmax()
print(best, round(corr[best], 3))"""),
        S("check", "pandas", """
Add a column `kpl` (kilometres per litre: mpg × 0.425144, rounded to 2 decimals) to `cars`, and
save the European cars (`origin == "europe"`) to `europe_cars.csv` without the index.""", """
cars["kpl"] = (cars["mpg"] * 0.425144).round(2)
cars[cars["origin"] == "europe"].to_csv("europe_cars.csv", index=False)""", """
import pandas as _pd
_e = _pd.read_csv("europe_cars.csv")
assert len(_e) == 70 and set(_e["origin"]) == {"europe"}, (len(_e), set(_e["origin"]))
assert "kpl" in _e.columns and (_e["kpl"] - (_e["mpg"] * 0.425144).round(2)).abs().max() < 1e-9"""),
        S("vis", "seaborn", """
Draw a seaborn histogram of `mpg` with 20 bins, one colour per `origin` (hue), stacked
(`multiple="stack"`), titled 'MPG by origin'.""", """
plt.figure(figsize=(7, 4))
sns.histplot(data=cars, x="mpg", hue="origin", bins=20, multiple="stack")
plt.title("MPG by origin")
plt.show()"""),
    ])

TASKS = [orders, survey, mpg]
