# ruff: noqa: E501  (instructions and reference code are task text, kept as a user would write them)
from native_tasks import S, Task

scores = Task(
    "zh-student-scores", "学生成绩分析", "pandas", "easy", [
        S("num", "pandas", """
文件路径：`data/scores.csv`（列：`学号`、`班级`、`数学`、`语文`、`英语`）。

把文件读入名为 `scores` 的 DataFrame，输出它的行数和列数，用空格分隔。""", """
import pandas as pd
scores = pd.read_csv("data/scores.csv")
print(scores.shape[0], scores.shape[1])"""),
        S("num", "pandas", """
`英语` 列有缺失值。先输出缺失值的个数，再用该学生所在 `班级` 的英语平均分（四舍五入到 1 位小数）填充缺失值，
然后输出填充后英语成绩的平均分（保留 2 位小数）。两个数字用空格分隔。""", """
n_missing = int(scores["英语"].isna().sum())
class_mean = scores.groupby("班级")["英语"].transform("mean").round(1)
scores["英语"] = scores["英语"].fillna(class_mean)
print(n_missing, round(scores["英语"].mean(), 2))"""),
        S("check", "pandas", """
新增一列 `总分`（数学、语文、英语三科之和），并新增一列 `排名`：按总分从高到低的名次
（`rank(ascending=False, method="min")`，转换为整数）。""", """
scores["总分"] = scores[["数学", "语文", "英语"]].sum(axis=1)
scores["排名"] = scores["总分"].rank(ascending=False, method="min").astype(int)
scores.sort_values("排名").head()""", """
assert {"总分", "排名"} <= set(scores.columns)
assert (scores["总分"] - scores[["数学", "语文", "英语"]].sum(axis=1)).abs().max() < 1e-9
assert scores.loc[scores["总分"].idxmax(), "排名"] == 1 and scores["排名"].min() == 1"""),
        S("num", "pandas", """
按班级计算三科的平均分（保留 2 位小数），班级按名称排序，输出这个表格。""", """
class_avg = scores.groupby("班级")[["数学", "语文", "英语"]].mean().round(2).sort_index()
print(class_avg)"""),
        S("num", "pandas", """
60 分及以上为及格。分别输出数学、语文、英语三科的及格率（百分数，保留 1 位小数），按这个顺序，用空格分隔。""", """
pass_rate = (scores[["数学", "语文", "英语"]] >= 60).mean() * 100
print(*[round(v, 1) for v in pass_rate])"""),
        S("vis", "seaborn", """
用 seaborn 画各班级 `数学` 成绩的箱线图（x 为班级，按名称排序）。图中不要出现中文（默认字体没有中文字形）：
x 轴刻度标签改为 'Class 1'、'Class 2'、'Class 3'，x 轴标签为 'class'，y 轴标签为 'math'，标题为 'Math scores by class'。""", """
import matplotlib.pyplot as plt
import seaborn as sns
plt.figure(figsize=(6, 4))
sns.boxplot(data=scores, x="班级", y="数学", order=sorted(scores["班级"].unique()))
plt.xticks([0, 1, 2], ["Class 1", "Class 2", "Class 3"])
plt.xlabel("class")
plt.ylabel("math")
plt.title("Math scores by class")
plt.show()"""),
        S("text", "pandas", """
哪个班级的平均总分最高？输出一句话，格式为"平均总分最高的是<班级>。"。""", """
best = scores.groupby("班级")["总分"].mean().idxmax()
print(f"平均总分最高的是{best}。")"""),
        S("check", "pandas", """
把总分排名前 10 的学生（`排名` 小于等于 10）按排名升序保存到 `top10.csv`，不保存索引，编码为 `utf-8-sig`。""", """
scores[scores["排名"] <= 10].sort_values("排名").to_csv("top10.csv", index=False, encoding="utf-8-sig")""", """
import pandas as _pd
_t = _pd.read_csv("top10.csv", encoding="utf-8-sig")
assert "学号" in _t.columns and len(_t) >= 10 and _t["排名"].max() <= 10
assert list(_t["排名"]) == sorted(_t["排名"])"""),
    ], language="zh")

air = Task(
    "zh-air-quality", "两座城市的空气质量时间序列", "pandas", "medium", [
        S("num", "pandas", """
文件路径：`data/air_quality.csv`（逐小时数据，列：`时间`、`城市`、`PM25`、`气温`）。

把文件读入 DataFrame `air`，并把 `时间` 列转换为日期时间类型。输出数据的行数以及城市的个数，用空格分隔。""", """
import pandas as pd
air = pd.read_csv("data/air_quality.csv")
air["时间"] = pd.to_datetime(air["时间"])
print(len(air), air["城市"].nunique())"""),
        S("num", "pandas", """
分别计算北京和上海 `PM25` 的平均值，保留 2 位小数，按先北京后上海的顺序输出，用空格分隔。""", """
mean_pm = air.groupby("城市")["PM25"].mean()
print(round(mean_pm["北京"], 2), round(mean_pm["上海"], 2))"""),
        S("check", "pandas", """
计算每座城市每天的 PM25 日均值，得到一个 DataFrame `daily`：索引为日期（每天一行），列为城市（`北京`、`上海`）。""", """
daily = air.pivot_table(index=air["时间"].dt.floor("D"), columns="城市", values="PM25", aggfunc="mean")
daily.head()""", """
assert daily.shape == (90, 2), daily.shape
assert set(daily.columns) == {"北京", "上海"}
assert abs(daily["北京"].mean() - air.loc[air["城市"] == "北京", "PM25"].mean()) < 1e-6"""),
        S("num", "pandas", """
日均值超过 75 视为污染日。北京和上海各有多少个污染日？按先北京后上海的顺序输出，用空格分隔。""", """
print(int((daily["北京"] > 75).sum()), int((daily["上海"] > 75).sum()))"""),
        S("vis", "matplotlib", """
用 matplotlib 在同一张图中画出两座城市 PM25 日均值的折线图（每座城市一条线，图例用英文 'Beijing' 和
'Shanghai'），标题为 'Daily mean PM2.5'，y 轴标签为 'PM2.5'。""", """
import matplotlib.pyplot as plt
plt.figure(figsize=(10, 4))
plt.plot(daily.index, daily["北京"], label="Beijing")
plt.plot(daily.index, daily["上海"], label="Shanghai")
plt.title("Daily mean PM2.5")
plt.ylabel("PM2.5")
plt.legend()
plt.show()"""),
        S("num", "pandas", """
只看北京的数据：一天中哪个小时（0–23）的 PM25 平均值最高？输出该小时和对应的平均值（保留 2 位小数），用空格分隔。""", """
bj = air[air["城市"] == "北京"]
hourly = bj.groupby(bj["时间"].dt.hour)["PM25"].mean()
print(hourly.idxmax(), round(hourly.max(), 2))"""),
        S("num", "scipy", """
计算上海逐小时 `PM25` 与 `气温` 的 Pearson 相关系数及其 p 值（`scipy.stats.pearsonr`），相关系数保留 3 位小数，
p 值保留 4 位小数，用空格分隔输出。""", """
from scipy.stats import pearsonr
sh = air[air["城市"] == "上海"]
r, p = pearsonr(sh["PM25"], sh["气温"])
print(round(float(r), 3), round(float(p), 4))"""),
        S("text", "pandas", """
按月份比较北京的 PM25 月均值，输出一句话，格式为"北京PM25月均值最高的是<N>月。"，其中 N 为月份数字（如 1）。""", """
monthly = bj.groupby(bj["时间"].dt.month)["PM25"].mean()
print(f"北京PM25月均值最高的是{monthly.idxmax()}月。")"""),
    ], language="zh")

houses = Task(
    "zh-house-prices", "房价回归建模", "sklearn", "medium", [
        S("num", "pandas", """
文件路径：`data/houses.csv`（列：`面积`、`房间数`、`房龄`、`区域`、`总价万元`）。

读入 DataFrame `houses`，输出总价的平均值和中位数（均保留 2 位小数），用空格分隔。""", """
import pandas as pd
houses = pd.read_csv("data/houses.csv")
print(round(houses["总价万元"].mean(), 2), round(houses["总价万元"].median(), 2))"""),
        S("num", "pandas", """
新增一列 `单价`：每平方米价格（万元，`总价万元 / 面积`）。按区域输出单价的平均值（保留 3 位小数），
按平均单价从高到低排序，每行输出"区域 数值"。""", """
houses["单价"] = houses["总价万元"] / houses["面积"]
unit = houses.groupby("区域")["单价"].mean().round(3).sort_values(ascending=False)
for district, value in unit.items():
    print(district, value)"""),
        S("vis", "seaborn", """
用 seaborn 画 `总价万元`（y）对 `面积`（x）的散点图，按 `房间数` 着色（hue）。图中不要出现中文（默认字体没有中文字形）：
x 轴标签为 'area (m2)'，y 轴标签为 'price (10k CNY)'，图例标题为 'rooms'，标题为 'Price vs area'。""", """
import matplotlib.pyplot as plt
import seaborn as sns
plt.figure(figsize=(7, 4))
ax = sns.scatterplot(data=houses, x="面积", y="总价万元", hue="房间数")
ax.get_legend().set_title("rooms")
plt.xlabel("area (m2)")
plt.ylabel("price (10k CNY)")
plt.title("Price vs area")
plt.show()"""),
        S("check", "sklearn", """
构造特征 `X`：`面积`、`房间数`、`房龄` 三列，加上 `区域` 的独热编码（`pd.get_dummies(houses["区域"],
prefix="区域", dtype=int)`，接在后面）；目标 `y` 为 `总价万元`。用
`train_test_split(X, y, test_size=0.25, random_state=7)` 划分为 `X_train`、`X_test`、`y_train`、`y_test`。""", """
from sklearn.model_selection import train_test_split
X = pd.concat([houses[["面积", "房间数", "房龄"]], pd.get_dummies(houses["区域"], prefix="区域", dtype=int)], axis=1)
y = houses["总价万元"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=7)""", """
assert X.shape == (500, 7), X.shape
assert X_train.shape == (375, 7) and X_test.shape == (125, 7)
assert {"区域_朝阳", "区域_海淀", "区域_丰台", "区域_通州"} <= set(X.columns)"""),
        S("num", "sklearn", """
在训练集上拟合线性回归模型 `lin`（`LinearRegression()`），输出测试集上的 R²（保留 4 位小数）和平均绝对误差 MAE
（保留 2 位小数），用空格分隔。""", """
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, r2_score
lin = LinearRegression().fit(X_train, y_train)
pred_lin = lin.predict(X_test)
print(round(r2_score(y_test, pred_lin), 4), round(mean_absolute_error(y_test, pred_lin), 2))"""),
        S("num", "sklearn", """
再在训练集上拟合随机森林回归 `rf`（`RandomForestRegressor(n_estimators=200, random_state=0)`），
同样输出测试集上的 R²（保留 4 位小数）和 MAE（保留 2 位小数），用空格分隔。""", """
from sklearn.ensemble import RandomForestRegressor
rf = RandomForestRegressor(n_estimators=200, random_state=0).fit(X_train, y_train)
pred_rf = rf.predict(X_test)
print(round(r2_score(y_test, pred_rf), 4), round(mean_absolute_error(y_test, pred_rf), 2))"""),
        S("text", "sklearn", """
比较两个模型测试集上的 R²，输出一句话，格式为"测试集R²更高的模型是<模型>。"，其中 <模型> 为 `线性回归` 或 `随机森林`。""", """
better = "线性回归" if r2_score(y_test, pred_lin) > r2_score(y_test, pred_rf) else "随机森林"
print(f"测试集R²更高的模型是{better}。")"""),
    ], language="zh")

churn = Task(
    "zh-customer-churn", "客户流失预测（LightGBM）", "lightgbm", "hard", [
        S("num", "pandas", """
文件路径：`data/churn.csv`（列：`customer_id`、`tenure_months`、`monthly_charges`、`contract`、
`support_tickets`、`churned`）。

读入 DataFrame `churn`，输出客户总数和流失率（`churned` 的平均值，百分数，保留 2 位小数），用空格分隔。""", """
import pandas as pd
churn = pd.read_csv("data/churn.csv")
print(len(churn), round(churn["churned"].mean() * 100, 2))"""),
        S("num", "pandas", """
按 `contract` 计算流失率（百分数，保留 2 位小数），按合同类型名称排序，每行输出"合同类型 数值"。""", """
for contract, value in (churn.groupby("contract")["churned"].mean() * 100).round(2).sort_index().items():
    print(contract, value)"""),
        S("vis", "seaborn", """
用 seaborn 画 `tenure_months` 的箱线图，x 为 `churned`（0/1），标题为 'Tenure by churn'。""", """
import matplotlib.pyplot as plt
import seaborn as sns
plt.figure(figsize=(6, 4))
sns.boxplot(data=churn, x="churned", y="tenure_months")
plt.title("Tenure by churn")
plt.show()"""),
        S("check", "sklearn", """
构造特征 `X`：`tenure_months`、`monthly_charges`、`support_tickets` 三列，再加上 `contract` 的独热编码
（`pd.get_dummies(churn["contract"], prefix="contract", dtype=int)`，接在后面）；目标 `y` 为 `churned`。
用 `train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)` 划分为 `X_train`、`X_test`、
`y_train`、`y_test`。""", """
from sklearn.model_selection import train_test_split
X = pd.concat([churn[["tenure_months", "monthly_charges", "support_tickets"]],
               pd.get_dummies(churn["contract"], prefix="contract", dtype=int)], axis=1)
y = churn["churned"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)""", """
assert X.shape == (1200, 6), X.shape
assert X_train.shape == (900, 6) and X_test.shape == (300, 6)
assert abs(y_train.mean() - y.mean()) < 0.01"""),
        S("num", "lightgbm", """
训练一个 LightGBM 分类器 `model`：`LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=15,
random_state=0, n_jobs=1, verbose=-1)`。输出测试集上的准确率和 ROC AUC（都保留 4 位小数），用空格分隔。""", """
from lightgbm import LGBMClassifier
from sklearn.metrics import accuracy_score, roc_auc_score
model = LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=15, random_state=0, n_jobs=1, verbose=-1)
model.fit(X_train, y_train)
proba = model.predict_proba(X_test)[:, 1]
print(round(accuracy_score(y_test, model.predict(X_test)), 4), round(roc_auc_score(y_test, proba), 4))"""),
        S("num", "sklearn", """
作为对照，在同样的训练集上训练 `LogisticRegression(max_iter=1000)`，输出它在测试集上的 ROC AUC（保留 4 位小数）。""", """
from sklearn.linear_model import LogisticRegression
logit = LogisticRegression(max_iter=1000).fit(X_train, y_train)
print(round(roc_auc_score(y_test, logit.predict_proba(X_test)[:, 1]), 4))"""),
        S("text", "lightgbm", """
按 `model.feature_importances_`（分裂次数）找出最重要的特征，输出一句话，格式为"最重要的特征是<特征名>。"。""", """
imp = pd.Series(model.feature_importances_, index=X.columns)
print(f"最重要的特征是{imp.idxmax()}。")"""),
        S("check", "pandas", """
用 `model` 预测所有客户的流失概率，新增列 `churn_prob`（保留 4 位小数）到 `churn`，把概率最高的 20 个客户
（按 `churn_prob` 降序）的 `customer_id` 和 `churn_prob` 两列保存为 `high_risk.csv`，不保存索引。""", """
churn["churn_prob"] = model.predict_proba(X)[:, 1].round(4)
churn.nlargest(20, "churn_prob")[["customer_id", "churn_prob"]].to_csv("high_risk.csv", index=False)""", """
import pandas as _pd
_h = _pd.read_csv("high_risk.csv")
assert list(_h.columns) == ["customer_id", "churn_prob"] and len(_h) == 20
assert (_h["churn_prob"].diff().dropna() <= 1e-12).all()
assert abs(_h["churn_prob"].iloc[0] - churn["churn_prob"].max()) < 1e-4"""),
    ], language="zh")

iris = Task(
    "zh-iris-decision-tree", "鸢尾花：决策树分类与可视化", "sklearn", "easy", [
        S("num", "sklearn", """
用 `sklearn.datasets.load_iris(as_frame=True)` 加载鸢尾花数据集，把特征 DataFrame 记为 `X`，标签 Series 记为 `y`。
输出样本数、特征数和类别数，用空格分隔。""", """
from sklearn.datasets import load_iris
iris = load_iris(as_frame=True)
X, y = iris.data, iris.target
print(X.shape[0], X.shape[1], y.nunique())"""),
        S("num", "pandas", """
按类别（0、1、2）计算 `petal length (cm)` 的平均值和标准差（都保留 3 位小数），每行输出"类别 平均值 标准差"。""", """
stats_by_class = X.groupby(y)["petal length (cm)"].agg(["mean", "std"]).round(3)
for cls, row in stats_by_class.iterrows():
    print(cls, row["mean"], row["std"])"""),
        S("vis", "seaborn", """
用 seaborn 画 `petal length (cm)`（x）与 `petal width (cm)`（y）的散点图，按类别着色（hue 为 `y`），标题为
'Iris petals'。""", """
import matplotlib.pyplot as plt
import seaborn as sns
plt.figure(figsize=(6, 4))
sns.scatterplot(x=X["petal length (cm)"], y=X["petal width (cm)"], hue=y, palette="deep")
plt.title("Iris petals")
plt.show()"""),
        S("check", "sklearn", """
用 `train_test_split(X, y, test_size=0.3, random_state=1, stratify=y)` 划分数据为 `X_train`、`X_test`、`y_train`、
`y_test`，然后训练决策树 `tree`：`DecisionTreeClassifier(max_depth=3, random_state=0)`。""", """
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=1, stratify=y)
tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X_train, y_train)""", """
from sklearn.tree import DecisionTreeClassifier as _DT
assert isinstance(tree, _DT) and tree.get_depth() <= 3
assert X_test.shape == (45, 4) and tree.score(X_train, y_train) > 0.9"""),
        S("num", "sklearn", """
输出决策树在测试集上的准确率（保留 4 位小数）以及树的叶子节点数（`get_n_leaves()`），用空格分隔。""", """
print(round(tree.score(X_test, y_test), 4), tree.get_n_leaves())"""),
        S("vis", "sklearn", """
用 `sklearn.tree.plot_tree` 画出这棵决策树（`feature_names` 用 `X` 的列名，`class_names` 用
`iris.target_names`，`filled=True`），图的大小为 12×6 英寸。""", """
from sklearn.tree import plot_tree
plt.figure(figsize=(12, 6))
plot_tree(tree, feature_names=list(X.columns), class_names=list(iris.target_names), filled=True)
plt.show()"""),
        S("text", "sklearn", """
根据 `tree.feature_importances_` 找出最重要的特征，输出一句话，格式为"决策树中最重要的特征是<特征名>。"。""", """
import pandas as pd
best = pd.Series(tree.feature_importances_, index=X.columns).idxmax()
print(f"决策树中最重要的特征是{best}。")"""),
    ], language="zh")

TASKS = [scores, air, houses, churn, iris]
